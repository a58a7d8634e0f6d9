"""The owner's own addresses for the signup site and the API: which names, and where their TLS
certificates and DNS records come from (docs/custom-domains.md).

Plain data, no CDK import, read from the same flat cdk.json context as every other setting. What can be
decided from the settings alone is refused here, naming the key; what needs the stack's region (a
certificate made in the stack, an API certificate of another region) is refused by `check_environment`,
which infra/domains.py calls with the region the stack deploys to.

The AWS rules relied on:
- CloudFront takes ACM certificates from us-east-1 only
  (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html).
- A regional API Gateway custom domain needs a certificate of the API's own region
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.settings_reader import Reader

CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
# A lower-case DNS name of two labels or more (API Gateway refuses upper-case custom domain names).
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_EXPECTED = "a lower-case host name such as {example}"
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$")
_CERTIFICATE_EXPECTED = "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)"


@dataclass(frozen=True)
class DomainSettings:
    """Each field's `doc` is its key's line in docs/settings.md."""

    site_domain: str | None = field(
        default=None,
        metadata={
            "doc": (
                "The signup site's own host name (e.g. `developers.example.com`) instead of `*.cloudfront.net`: CloudFront "
                "serves it with TLS 1.2 or later ([Custom domains](custom-domains.md))."
            )
        },
    )
    api_domain: str | None = field(
        default=None,
        metadata={
            "doc": (
                "The API's own host name (e.g. `api.example.com`): a regional API Gateway custom domain (TLS 1.2) mapped to "
                "the stage, and the default `execute-api` address is turned off ([Custom domains](custom-domains.md))."
            )
        },
    )
    hosted_zone_name: str | None = field(
        default=None,
        metadata={
            "doc": (
                "A Route 53 public hosted zone the domains are in (e.g. `example.com`): the stack then validates its "
                "certificates and creates the alias records itself. Empty: set the certificate ARNs and create the DNS "
                "records `make deploy` prints."
            )
        },
    )
    hosted_zone_id: str | None = field(
        default=None,
        metadata={
            "doc": ("The hosted zone's id (`Z...`); empty: looked up by name at synth, which needs AWS credentials.")
        },
    )
    site_certificate_arn: str | None = field(
        default=None,
        metadata={
            "doc": (
                "An ACM certificate in **us-east-1** covering `site_domain`; needed without a hosted zone, and with one when "
                "the stack is in another region ([why](custom-domains.md#the-sites-certificate-lives-in-us-east-1))."
            )
        },
    )
    api_certificate_arn: str | None = field(
        default=None,
        metadata={
            "doc": ("An ACM certificate in the stack's region covering `api_domain`; needed without a hosted zone.")
        },
    )

    @classmethod
    def context_keys(cls) -> tuple[str, ...]:
        """The cdk.json context keys, one per field, named as the fields are."""
        return tuple(cls.__dataclass_fields__)

    @classmethod
    def from_context(cls, read: Reader) -> DomainSettings:
        """Validated by Settings' reader (each value), then as a whole (`_check`)."""
        domains = cls(
            site_domain=read.optional_matching(
                "site_domain", _HOST_NAME, _HOST_EXPECTED.format(example="developers.example.com")
            ),
            api_domain=read.optional_matching(
                "api_domain", _HOST_NAME, _HOST_EXPECTED.format(example="api.example.com")
            ),
            hosted_zone_name=read.optional_matching(
                "hosted_zone_name", _HOST_NAME, "the Route 53 hosted zone's name, e.g. example.com"
            ),
            hosted_zone_id=read.optional_matching(
                "hosted_zone_id", _HOSTED_ZONE_ID, "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ"
            ),
            site_certificate_arn=read.optional_matching(
                "site_certificate_arn", _CERTIFICATE_ARN, _CERTIFICATE_EXPECTED + " in us-east-1"
            ),
            api_certificate_arn=read.optional_matching(
                "api_certificate_arn", _CERTIFICATE_ARN, _CERTIFICATE_EXPECTED + " in the stack's region"
            ),
        )
        domains._check()
        return domains

    @property
    def any(self) -> bool:
        return self.site_domain is not None or self.api_domain is not None

    @property
    def needs_lookup(self) -> bool:
        """The hosted zone is known by name only: synth asks Route 53 for its id (account and region needed)."""
        return self.hosted_zone_name is not None and self.hosted_zone_id is None

    def _check(self) -> None:
        if self.hosted_zone_id and not self.hosted_zone_name:
            _refuse("hosted_zone_id", "is set without hosted_zone_name: set the zone's name too (e.g. example.com)")
        if self.hosted_zone_name and not self.any:
            _refuse(
                "hosted_zone_name",
                "is set but neither site_domain nor api_domain is: set the names to serve from the zone, or empty it",
            )
        for key, domain, certificate in (
            ("site_domain", self.site_domain, "site_certificate_arn"),
            ("api_domain", self.api_domain, "api_certificate_arn"),
        ):
            certificate_arn = getattr(self, certificate)
            if certificate_arn and not domain:
                _refuse(certificate, f"is set but {key} is empty: set {key} to the name it covers, or empty it")
            if domain and not certificate_arn and not self.hosted_zone_name:
                _refuse(
                    key,
                    f"is {domain!r} but there is neither a hosted zone (hosted_zone_name) nor a certificate "
                    f"({certificate}): set one (docs/custom-domains.md)",
                )
            if domain and self.hosted_zone_name and not _is_under(domain, self.hosted_zone_name):
                _refuse(
                    key,
                    f"{domain!r} is not in the hosted zone {self.hosted_zone_name!r} (hosted_zone_name): the "
                    "stack can only create records there; use a name under the zone, or a certificate ARN and "
                    "your own DNS without hosted_zone_name",
                )
        if self.site_domain and self.site_domain == self.api_domain:
            _refuse(
                "api_domain",
                f"is the same name as site_domain ({self.site_domain!r}): the site and the API need a name each",
            )
        if self.site_certificate_arn and certificate_region(self.site_certificate_arn) != CLOUDFRONT_CERTIFICATE_REGION:
            _refuse(
                "site_certificate_arn",
                f"is in {certificate_region(self.site_certificate_arn)}, but CloudFront "
                f"takes certificates from {CLOUDFRONT_CERTIFICATE_REGION} only: request it there "
                "(docs/custom-domains.md)",
            )

    def check_environment(self, region: str | None, account: str | None) -> None:
        """Refuse what the stack's region and account (None: not known at synth) make impossible."""
        if self.site_domain and not self.site_certificate_arn and region != CLOUDFRONT_CERTIFICATE_REGION:
            where = f"this stack deploys to {region}" if region else "this synth does not know the stack's region"
            _refuse(
                "site_certificate_arn",
                f"is needed for site_domain {self.site_domain!r}: CloudFront takes "
                f"certificates from {CLOUDFRONT_CERTIFICATE_REGION} only and {where}; request one there and set "
                "site_certificate_arn (docs/custom-domains.md)",
            )
        if region and self.api_certificate_arn and certificate_region(self.api_certificate_arn) != region:
            _refuse(
                "api_certificate_arn",
                f"is in {certificate_region(self.api_certificate_arn)}, but the API's "
                f"custom domain needs a certificate of the stack's region, {region}",
            )
        if self.needs_lookup and not (region and account):
            _refuse(
                "hosted_zone_id",
                f"is needed to find the zone {self.hosted_zone_name!r} when the synth does not "
                "know the account and region (run `make synth` with AWS credentials, or set hosted_zone_id)",
            )


def certificate_region(certificate_arn: str) -> str:
    match = _CERTIFICATE_ARN.match(certificate_arn)
    assert match, certificate_arn
    return match["region"]


def _is_under(domain: str, zone: str) -> bool:
    return domain == zone or domain.endswith("." + zone)


def _refuse(key: str, why: str) -> None:
    from infra.settings import SettingsError  # settings imports this module

    raise SettingsError(f"cdk.json context '{key}' {why}")
