"""Custom domains (infra/domains.py, infra/domain_settings.py): one synth per configuration, module-scoped;
the refusals are checked on the settings alone, and through app.py as `make synth` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from infra_synth import REPO_ROOT, Synth, cdk_json_context, synthesize

from infra.domain_settings import DomainSettings
from infra.domains import DNS_RECORDS_OUTPUT, stack_environment
from infra.settings import Settings, SettingsError, load_cdk_json_context
from tollgate import contract

ACCOUNT = "123456789012"
ZONE = {"hosted_zone_name": "example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}
NAMES = {"site_domain": "developers.example.com", "api_domain": "api.example.com"}
SITE_CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555"
API_CERTIFICATE_EU = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/66666666-7777-8888-9999-000000000000"
# What `cdk synth` stores in cdk.context.json after looking the zone up by name (HostedZone.from_lookup).
EU_ZONE_LOOKUP = {
    f"hosted-zone:account={ACCOUNT}:domainName=example.com:region=eu-west-1": {
        "Id": "/hostedzone/Z0EUZONE0000000000000",
        "Name": "example.com.",
    }
}


@pytest.fixture(scope="module")
def with_zone(tmp_path_factory) -> Synth:
    """Both names in a Route 53 zone, the stack in us-east-1: the stack makes both certificates."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-domains-zone"),
        env=cdk.Environment(account=ACCOUNT, region="us-east-1"),
        **NAMES,
        **ZONE,
    )


@pytest.fixture(scope="module")
def with_certificates(tmp_path_factory) -> Synth:
    """Both names with the owner's certificates and DNS, the stack's environment left to deploy time."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-domains-arns"),
        **NAMES,
        site_certificate_arn=SITE_CERTIFICATE,
        api_certificate_arn=f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/abc",
    )


@pytest.fixture(scope="module")
def in_eu_west_1(tmp_path_factory) -> Synth:
    """A stack in eu-west-1 with a zone found by name: the site's certificate is the owner's (us-east-1),
    the API's is made in the stack."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-domains-eu"),
        env=cdk.Environment(account=ACCOUNT, region="eu-west-1"),
        lookups=EU_ZONE_LOOKUP,
        **NAMES,
        hosted_zone_name="example.com",
        site_certificate_arn=SITE_CERTIFICATE,
    )


def _of_type(synth: Synth, resource_type: str) -> list[dict]:
    return [resource["Properties"] for resource in synth.resources(resource_type).values()]


def _distribution(synth: Synth) -> dict:
    (distribution,) = _of_type(synth, "AWS::CloudFront::Distribution")
    return distribution["DistributionConfig"]


def _site_api_origin(synth: Synth) -> dict:
    (origin,) = [origin for origin in _distribution(synth)["Origins"] if "CustomOriginConfig" in origin]
    return origin


def _register_environment(synth: Synth) -> dict:
    (register,) = [
        function
        for function in _of_type(synth, "AWS::Lambda::Function")
        if function.get("FunctionName", "").endswith("-register")
    ]
    return register["Environment"]["Variables"]


def _site_config(synth: Synth) -> dict:
    """The config.json the site deployment uploads (an asset directory of the cloud assembly)."""
    (config,) = [json.loads(path.read_text()) for path in synth.outdir.glob("asset.*/config.json")]
    return config


# No domains: nothing of the feature, and the stack stays environment-agnostic as before.


def test_without_domains_the_stack_is_as_before(synth):
    for resource_type in (
        "AWS::CertificateManager::Certificate",
        "AWS::Route53::RecordSet",
        "AWS::ApiGateway::DomainName",
        "AWS::ApiGateway::BasePathMapping",
    ):
        assert not synth.resources(resource_type), resource_type
    (rest_api,) = _of_type(synth, "AWS::ApiGateway::RestApi")
    assert "DisableExecuteApiEndpoint" not in rest_api
    assert "Aliases" not in _distribution(synth) and "ViewerCertificate" not in _distribution(synth)
    assert _site_api_origin(synth)["OriginPath"] == "/prod"
    assert DNS_RECORDS_OUTPUT not in synth.json["Outputs"]
    assert cdk.Token.is_unresolved(synth.stack.region)
    assert stack_environment(synth.settings.domains, {"CDK_DEFAULT_REGION": "eu-west-1"}) is None


# Both names in a hosted zone.


def test_a_zone_gives_dns_validated_certificates_for_both_names(with_zone):
    certificates = {cert["DomainName"]: cert for cert in _of_type(with_zone, "AWS::CertificateManager::Certificate")}

    assert set(certificates) == {"developers.example.com", "api.example.com"}
    for name, certificate in certificates.items():
        assert certificate["ValidationMethod"] == "DNS"
        assert certificate["DomainValidationOptions"] == [{"DomainName": name, "HostedZoneId": ZONE["hosted_zone_id"]}]


def test_a_zone_gets_alias_records_to_the_distribution_and_the_api_domain(with_zone):
    records = {(record["Name"], record["Type"]): record for record in _of_type(with_zone, "AWS::Route53::RecordSet")}

    assert set(records) == {
        ("developers.example.com.", "A"),
        ("developers.example.com.", "AAAA"),
        ("api.example.com.", "A"),
    }
    assert all(record["HostedZoneId"] == ZONE["hosted_zone_id"] for record in records.values())
    assert records["developers.example.com.", "A"]["AliasTarget"]["DNSName"]["Fn::GetAtt"][1] == "DomainName"
    assert records["api.example.com.", "A"]["AliasTarget"]["DNSName"]["Fn::GetAtt"][1] == "RegionalDomainName"
    assert DNS_RECORDS_OUTPUT not in with_zone.json["Outputs"]


def test_the_api_domain_is_regional_tls_1_2_and_mapped_at_its_root_to_the_stage(with_zone):
    (domain,) = _of_type(with_zone, "AWS::ApiGateway::DomainName")
    (mapping,) = _of_type(with_zone, "AWS::ApiGateway::BasePathMapping")

    assert (domain["DomainName"], domain["EndpointConfiguration"], domain["SecurityPolicy"]) == (
        "api.example.com",
        {"Types": ["REGIONAL"]},
        "TLS_1_2",
    )
    assert "RegionalCertificateArn" in domain
    assert "BasePath" not in mapping
    assert mapping["Stage"] == {
        "Ref": with_zone.stack.resolve(with_zone.stack.get_logical_id(with_zone.stack.gateway.stage.node.default_child))
    }


def test_with_an_api_domain_the_execute_api_endpoint_is_disabled_and_the_waf_stays_on_the_stage(with_zone):
    (rest_api,) = _of_type(with_zone, "AWS::ApiGateway::RestApi")
    (association,) = _of_type(with_zone, "AWS::WAFv2::WebACLAssociation")

    assert rest_api["DisableExecuteApiEndpoint"] is True
    assert "apis/" in json.dumps(association["ResourceArn"]) and "/stages/" in json.dumps(association["ResourceArn"])


def test_the_site_serves_its_own_name_with_tls_1_2_and_calls_the_api_on_its_domain(with_zone):
    distribution = _distribution(with_zone)
    origin = _site_api_origin(with_zone)

    assert distribution["Aliases"] == ["developers.example.com"]
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["ViewerCertificate"]["SslSupportMethod"] == "sni-only"
    assert origin["DomainName"] == "api.example.com" and "OriginPath" not in origin


def test_every_address_follows_the_names(with_zone):
    outputs = {key: output["Value"] for key, output in with_zone.json["Outputs"].items()}

    assert outputs["ApiUrl"] == "https://api.example.com/"
    assert outputs["SignupUrl"] == "https://developers.example.com/"
    assert outputs["StripeWebhookUrl"] == "https://api.example.com/stripe/webhook"
    # Email links and Checkout's return URLs are built from the signup URL the functions are given.
    assert _register_environment(with_zone)[contract.ENV_SIGNUP_URL] == "https://developers.example.com/"
    assert _site_config(with_zone)["apiUrl"] == "https://api.example.com/"
    (quota_answer,) = [
        response
        for response in _of_type(with_zone, "AWS::ApiGateway::GatewayResponse")
        if response["ResponseType"] == "QUOTA_EXCEEDED"
    ]
    assert "https://developers.example.com/account" in json.dumps(quota_answer)
    assert "execute-api" not in json.dumps(outputs) and "cloudfront.net" not in json.dumps(outputs)


# Both names with the owner's certificates and DNS provider.


def test_certificate_arns_are_used_as_given_and_the_dns_records_are_an_output(with_certificates):
    assert not with_certificates.resources("AWS::CertificateManager::Certificate")
    assert not with_certificates.resources("AWS::Route53::RecordSet")
    (domain,) = _of_type(with_certificates, "AWS::ApiGateway::DomainName")
    assert domain["RegionalCertificateArn"] == f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/abc"
    assert _distribution(with_certificates)["ViewerCertificate"]["AcmCertificateArn"] == SITE_CERTIFICATE

    records = with_certificates.stack.resolve(with_certificates.json["Outputs"][DNS_RECORDS_OUTPUT]["Value"])
    text = json.dumps(records)
    assert "developers.example.com" in text and "api.example.com" in text and text.count("CNAME") == 2
    assert "RegionalDomainName" in text and "SignupSiteDistribution" in text


# A stack in eu-west-1.


def test_in_eu_west_1_the_site_takes_the_us_east_1_certificate_and_the_api_gets_one_in_eu_west_1(in_eu_west_1):
    (certificate,) = _of_type(in_eu_west_1, "AWS::CertificateManager::Certificate")

    assert certificate["DomainName"] == "api.example.com"
    assert certificate["DomainValidationOptions"][0]["HostedZoneId"] == "Z0EUZONE0000000000000"
    assert _distribution(in_eu_west_1)["ViewerCertificate"]["AcmCertificateArn"] == SITE_CERTIFICATE
    assert {record["Name"] for record in _of_type(in_eu_west_1, "AWS::Route53::RecordSet")} == {
        "developers.example.com.",
        "api.example.com.",
    }
    assert in_eu_west_1.stack.region == "eu-west-1"


def test_the_cli_environment_is_the_stacks_only_with_domains():
    environ = {"CDK_DEFAULT_ACCOUNT": ACCOUNT, "CDK_DEFAULT_REGION": "eu-west-1"}
    environment = stack_environment(
        DomainSettings(api_domain="api.example.com", api_certificate_arn=API_CERTIFICATE_EU), environ
    )

    assert (environment.account, environment.region) == (ACCOUNT, "eu-west-1")
    assert stack_environment(DomainSettings(), environ) is None


# Contradictions, each refused naming its key.


@pytest.fixture(scope="module")
def context():
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"site_domain": "developers.example.com"}, "site_domain", "neither a hosted zone"),
        ({"api_domain": "api.example.com"}, "api_domain", "neither a hosted zone"),
        (
            {
                **NAMES,
                "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
                "site_certificate_arn": SITE_CERTIFICATE,
                "api_certificate_arn": API_CERTIFICATE_EU,
            },
            "hosted_zone_id",
            "without hosted_zone_name",
        ),
        ({"site_domain": "developers.example.org", **ZONE}, "site_domain", "is not in the hosted zone"),
        ({"api_domain": "api.example.org", **ZONE}, "api_domain", "is not in the hosted zone"),
        (
            {
                "site_domain": "developers.example.com",
                "site_certificate_arn": SITE_CERTIFICATE.replace("us-east-1", "eu-west-1"),
            },
            "site_certificate_arn",
            "CloudFront takes certificates from us-east-1 only",
        ),
        ({"api_certificate_arn": API_CERTIFICATE_EU}, "api_certificate_arn", "api_domain is empty"),
        ({**ZONE}, "hosted_zone_name", "neither site_domain nor api_domain"),
        ({"site_domain": "example.com", "api_domain": "example.com", **ZONE}, "api_domain", "the same name"),
        ({"site_domain": "Developers.Example.com", **ZONE}, "site_domain", "lower-case host name"),
        (
            {"site_domain": "developers.example.com", "site_certificate_arn": "arn:aws:acm:us-east-1:1:cert"},
            "site_certificate_arn",
            "an ACM certificate ARN",
        ),
    ],
)
def test_contradictory_settings_are_refused_naming_the_key(context, overrides, key, says):
    with pytest.raises(SettingsError, match=f"'{key}'.*{says}"):
        Settings.from_context({**context, **overrides})


@pytest.mark.parametrize(
    ("domains", "region", "account", "key", "says"),
    [
        (
            DomainSettings(
                site_domain="developers.example.com",
                hosted_zone_name="example.com",
                hosted_zone_id="Z0123456789ABCDEFGHIJ",
            ),
            "eu-west-1",
            ACCOUNT,
            "site_certificate_arn",
            "this stack deploys to eu-west-1",
        ),
        (
            DomainSettings(
                site_domain="developers.example.com",
                hosted_zone_name="example.com",
                hosted_zone_id="Z0123456789ABCDEFGHIJ",
            ),
            None,
            None,
            "site_certificate_arn",
            "does not know the stack's region",
        ),
        (
            DomainSettings(api_domain="api.example.com", api_certificate_arn=API_CERTIFICATE_EU),
            "us-east-2",
            ACCOUNT,
            "api_certificate_arn",
            "is in eu-west-1, but .* us-east-2",
        ),
        (
            DomainSettings(api_domain="api.example.com", hosted_zone_name="example.com"),
            "eu-west-1",
            None,
            "hosted_zone_id",
            "is needed to find the zone",
        ),
    ],
)
def test_what_the_region_makes_impossible_is_refused_naming_the_key(domains, region, account, key, says):
    with pytest.raises(SettingsError, match=f"'{key}' .*{says}"):
        domains.check_environment(region, account)


def test_make_synth_refuses_a_site_domain_whose_certificate_cannot_serve_cloudfront(tmp_path):
    """app.py as the CDK CLI runs it (context and environment through variables): one line naming the key."""
    context = cdk_json_context(**NAMES, **ZONE)
    environ = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
        "CDK_DEFAULT_ACCOUNT": ACCOUNT,
        "CDK_DEFAULT_REGION": "eu-west-1",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Tollgate settings: cdk.json context 'site_certificate_arn' is needed for site_domain")
    )
    assert not Path(tmp_path, "Tollgate.template.json").exists()
