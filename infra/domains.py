"""The owner's own addresses (docs/custom-domains.md): TLS certificates, the API's custom domain and the
DNS records, for the names infra/domain_settings.py validated.

Built in two steps because the site's distribution needs its certificate when it is created: the
constructor finds the hosted zone and makes (or imports) the certificates; `serve_site` and `serve_api`
then point the names at the distribution and the stage. With a hosted zone the stack writes the
records itself; without one, the `DnsRecordsToCreate` output lists them for the owner (`make deploy`
prints it again at the end).

The AWS rules relied on, as documented:
- ACM validates a certificate by a CNAME record in the domain's DNS; with the hosted zone given,
  CloudFormation creates that record and waits for the certificate
  (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html,
  AWS::CertificateManager::Certificate DomainValidationOption.HostedZoneId).
- CloudFront takes ACM certificates from us-east-1 only
  (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html): in another region the owner
  gives `site_certificate_arn` (docs/custom-domains.md says why not a companion stack).
- A regional custom domain needs a certificate of the API's region, then a DNS record (an alias A
  record in Route 53, a CNAME elsewhere) to its regional domain name
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html);
  TLS_1_2 is its strictest classic security policy.
- A Route 53 alias to CloudFront uses CloudFront's fixed zone id (route53_targets.CloudFrontTarget);
  the distribution serves IPv6, so it gets an AAAA alias too.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Environment, Fn, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra.domain_settings import DomainSettings

DNS_RECORDS_OUTPUT = "DnsRecordsToCreate"


def stack_environment(domains: DomainSettings, environ: Mapping[str, str]) -> Environment | None:
    """Where the stack deploys, when domains need to know it (which certificate region fits CloudFront,
    the zone lookup): the account and region the CDK CLI resolved from the credentials
    (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION). Without domains the stack stays environment-agnostic,
    as it always was."""
    if not domains.any:
        return None
    return Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION"))


class Domains(Construct):
    """The hosted zone (if any), the certificates, then the names' records (`serve_site`, `serve_api`:
    the site and the gateway call them as they are built); without a zone, the output that lists the
    records to create, whichever is served first."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DomainSettings) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        settings.check_environment(_known(stack.region), _known(stack.account))
        self.settings = self._settings = settings
        self._records_to_create: list[tuple[str, str]] = []
        self.zone = self._hosted_zone()
        self.site_certificate = self._certificate(
            "SiteCertificate", settings.site_domain, settings.site_certificate_arn
        )
        self.api_certificate = self._certificate("ApiCertificate", settings.api_domain, settings.api_certificate_arn)
        self._records_output: CfnOutput | None = None

    def _hosted_zone(self) -> route53.IHostedZone | None:
        settings = self._settings
        if settings.hosted_zone_name is None:
            return None
        if settings.hosted_zone_id is None:
            return route53.HostedZone.from_lookup(self, "Zone", domain_name=settings.hosted_zone_name)
        return route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=settings.hosted_zone_id, zone_name=settings.hosted_zone_name
        )

    def _certificate(self, construct_id: str, domain: str | None, arn: str | None) -> acm.ICertificate | None:
        """The owner's certificate when given, else one DNS-validated in the zone (domain_settings checked
        that one of them is possible, and that a site certificate made here is in us-east-1)."""
        if domain is None:
            return None
        if arn is not None:
            return acm.Certificate.from_certificate_arn(self, construct_id, arn)
        assert self.zone is not None
        return acm.Certificate(
            self, construct_id, domain_name=domain, validation=acm.CertificateValidation.from_dns(self.zone)
        )

    def serve_site(self, distribution: cloudfront.IDistribution) -> None:
        """`site_domain` to the distribution (which was created with the name and its certificate)."""
        domain = self._settings.site_domain
        if domain is None:
            return
        if self.zone is None:
            self._add_record_to_create(domain, distribution.distribution_domain_name)
            return
        target = route53.RecordTarget.from_alias(targets.CloudFrontTarget(distribution))
        route53.ARecord(self, "SiteAlias", zone=self.zone, record_name=domain, target=target)
        route53.AaaaRecord(self, "SiteAliasIpv6", zone=self.zone, record_name=domain, target=target)

    def serve_api(self, rest_api: apigw.RestApi, stage: apigw.Stage) -> None:
        """`api_domain` as a regional custom domain (TLS 1.2) whose root is the stage."""
        domain_name = self._settings.api_domain
        if domain_name is None:
            return
        assert self.api_certificate is not None
        domain = apigw.DomainName(
            self,
            "ApiDomain",
            domain_name=domain_name,
            certificate=self.api_certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        domain.add_base_path_mapping(rest_api, stage=stage)
        if self.zone is None:
            self._add_record_to_create(domain_name, domain.domain_name_alias_domain_name)
            return
        route53.ARecord(
            self,
            "ApiAlias",
            zone=self.zone,
            record_name=domain_name,
            target=route53.RecordTarget.from_alias(targets.ApiGatewayDomain(domain)),
        )

    def _add_record_to_create(self, name: str, target: str) -> None:
        """Without a hosted zone: the output lists the CNAME records the owner creates at their DNS provider
        (one output, whichever of the site and the API is served first)."""
        self._records_to_create.append((name, target))
        if self._records_output is None:
            self._records_output = CfnOutput(
                Stack.of(self),
                DNS_RECORDS_OUTPUT,
                value="",
                description="Create these DNS records at your DNS provider (name CNAME target), then the custom "
                "domains answer (docs/custom-domains.md)",
            )
        self._records_output.value = Fn.join(
            "; ",
            [
                Fn.join(" CNAME ", [record_name, record_target])
                for record_name, record_target in self._records_to_create
            ],
        )


def _known(value: str) -> str | None:
    """A stack's region or account, or None when the synth leaves it to deploy time (a token)."""
    return None if Token.is_unresolved(value) else value
