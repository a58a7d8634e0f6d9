"""infra/signup_site.py (issue 3, point 6): the signup site hosting."""

import json
import re
import subprocess

import pytest
from aws_cdk.assertions import Match
from infra_synth import resolve_join

from infra import site_delivery
from infra.branding import Branding
from tollgate import contract


def test_site_bucket_is_private_encrypted_and_ssl_only(synth):
    deployment = next(iter(synth.resources("Custom::CDKBucketDeployment").values()))
    bucket_id = deployment["Properties"]["DestinationBucketName"]["Ref"]
    bucket = synth.resources("AWS::S3::Bucket")[bucket_id]["Properties"]

    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policy = json.dumps(
        synth.template.find_resources("AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket_id}}})
    )
    assert '"aws:SecureTransport": "false"' in policy
    assert "cloudfront.amazonaws.com" in policy and "AWS:SourceArn" in policy  # Origin Access Control


def test_distribution_uses_oac_https_redirect_headers_policy_and_root_object(synth):
    (oac,) = synth.resources("AWS::CloudFront::OriginAccessControl")
    (policy_id,) = synth.resources("AWS::CloudFront::ResponseHeadersPolicy")
    synth.template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "DefaultCacheBehavior": Match.object_like(
                        {"ViewerProtocolPolicy": "redirect-to-https", "ResponseHeadersPolicyId": {"Ref": policy_id}}
                    ),
                    # The site's bucket, then the REST API for /api/* (tests/infra/test_customer_accounts.py).
                    "Origins": [
                        Match.object_like({"OriginAccessControlId": {"Fn::GetAtt": [oac, "Id"]}}),
                        Match.object_like({"OriginPath": f"/{synth.settings.stage_name}"}),
                    ],
                }
            )
        },
    )


def test_the_account_page_is_served_at_its_address_by_a_function_on_that_behaviour_only(synth):
    (distribution,) = synth.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    ((function_id, function),) = [
        (logical_id, resource)
        for logical_id, resource in synth.resources("AWS::CloudFront::Function").items()
        if "account.html" in resource["Properties"]["FunctionCode"]
    ]
    behaviours = {behaviour["PathPattern"]: behaviour for behaviour in config["CacheBehaviors"]}

    account = behaviours[f"/{contract.ACCOUNT_PAGE}"]
    assert account["TargetOriginId"] == config["DefaultCacheBehavior"]["TargetOriginId"]  # the site's bucket
    assert account["ResponseHeadersPolicyId"] == config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    assert account["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]}}
    ]
    assert "FunctionAssociations" not in config["DefaultCacheBehavior"]  # no other request runs it
    assert function["Properties"]["FunctionCode"] == site_delivery.page_rewrite_function()


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        (f"/{contract.ACCOUNT_PAGE}", f"/{contract.ACCOUNT_PAGE_FILE}"),
        ("/app.js", "/app.js"),
        ("/accounts", "/accounts"),
    ],
)
def test_the_page_function_rewrites_its_addresses_only(uri: str, served: str):
    """The CloudFront Function's code run in Node, with the viewer-request event CloudFront gives it."""
    script = site_delivery.page_rewrite_function() + (
        f"process.stdout.write(handler({{request: {{uri: {json.dumps(uri)}, method: 'GET'}}}}).uri);"
    )
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout == served


def _headers_sent_by(policy: dict) -> dict[str, str]:
    """The response headers a CloudFront security-headers policy adds, as a browser receives them."""
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    hsts = config["StrictTransportSecurity"]
    return {
        "Content-Security-Policy": resolve_join(config["ContentSecurityPolicy"]["ContentSecurityPolicy"]),
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}"
        + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else ""),
        **({"X-Content-Type-Options": "nosniff"} if "ContentTypeOptions" in config else {}),
        "X-Frame-Options": config["FrameOptions"]["FrameOption"],
        "Referrer-Policy": config["ReferrerPolicy"]["ReferrerPolicy"],
    }


def test_cloudfront_sends_the_security_headers_the_local_site_server_sends(synth):
    (policy,) = synth.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]

    assert _headers_sent_by(policy) == site_delivery.security_headers()
    assert all(header["Override"] is True for header in config.values())


def test_security_headers_forbid_inline_code_and_let_the_page_call_only_its_own_origin():
    headers = site_delivery.security_headers()
    csp = headers["Content-Security-Policy"]

    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self';" in csp  # the API's routes the pages need are under /api/ on the site
    assert site_delivery.HSTS_MAX_AGE_SECONDS >= 31536000
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_site_is_deployed_with_a_generated_config_json_holding_the_api_url(synth):
    (deployment,) = synth.resources("Custom::CDKBucketDeployment").values()
    markers = deployment["Properties"]["SourceMarkers"]
    (config_markers,) = [m for m in markers if m]
    api_url = resolve_join(next(iter(config_markers.values())))
    (api_id,) = synth.resources("AWS::ApiGateway::RestApi")

    assert len(deployment["Properties"]["SourceObjectKeys"]) == 2  # site/ + config.json
    assert api_url.startswith(f'"https://<{api_id}>.execute-api.')
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]


def test_config_json_carries_the_plans_and_require_payment_method(synth, synth_custom):
    for synthesized, expected in ((synth, False), (synth_custom, True)):
        config_asset = next(
            path for path in synthesized.outdir.glob("asset.*") if path.is_dir() and (path / "config.json").exists()
        )
        # The API URL is a deploy-time marker that BucketDeployment replaces with a JSON string.
        config = json.loads(
            re.sub(r"<<marker:0x[0-9a-f]+:\d+>>", '"marker"', (config_asset / "config.json").read_text())
        )
        assert config["requirePaymentMethod"] is expected
        assert config["plans"] == [plan.page_view() for plan in synthesized.settings.plans]
        assert set(config) == set(
            site_delivery.site_config("", synthesized.settings.plans, Branding())
        )  # as localdev serves
