"""The signup page: a private bucket served by CloudFront, plus the generated config.json."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import site_delivery
from infra.branding import Branding
from infra.domains import Domains
from infra.functions import Functions
from infra.gateway import Gateway
from infra.nag import acknowledge, acknowledge_wildcards, arn_of
from infra.operator_secrets import stack_output
from infra.plan_settings import PlanSettings
from tollgate import contract


class SignupSite(Construct):
    """Private S3 bucket + CloudFront (Origin Access Control, HTTPS only, security headers): the site
    feature. Its `/api/*` route to the API is customer accounts' (infra/customer_accounts.py).

    `site/` is uploaded with a generated `config.json` ({"apiUrl", "requirePaymentMethod", "plans",
    "brand"}), so the page never hard-codes an address, the plans or the owner's brand; each deploy
    invalidates the distribution's cache.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gateway: Gateway,
        functions: Functions,
        plans: tuple[PlanSettings, ...],
        branding: Branding,
        domains: Domains | None,
        site_dir: Path = site_delivery.SITE_DIR,
    ) -> None:
        """With `site_domain`, `domains` gives the page its own address (infra/domains.py): the name, its
        us-east-1 certificate and the record to the distribution."""
        super().__init__(scope, construct_id)
        api_url = gateway.url
        self._domain_name = domain_name = domains.settings.site_domain if domains else None
        certificate = domains.site_certificate if domains else None
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.headers_policy = self._security_headers_policy(site_delivery.logo_origin(branding, site_dir))
        site_origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Tollgate signup page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=site_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.headers_policy,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            domain_names=[domain_name] if domain_name else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
        )
        self._add_page_routes(site_origin)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(site_dir)),
                s3deploy.Source.json_data(
                    site_delivery.CONFIG_OBJECT_KEY, site_delivery.site_config(api_url, plans, branding, site_dir)
                ),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
        )
        self._acknowledge_findings(with_own_certificate=certificate is not None)
        if domains is not None:
            domains.serve_site(self.distribution)
        gateway.add_gateway_responses(self.origin)  # the quota answer links the account page
        functions.provide({contract.ENV_SIGNUP_URL: self.url})
        stack_output(self, contract.STACK_OUTPUT_SIGNUP_URL, self.url, "The signup page")

    def _add_page_routes(self, site_origin: cloudfront.IOrigin) -> None:
        """site_delivery.PAGE_ROUTES: a behaviour per address, like the default one, whose function
        serves the page's file (only requests of these addresses run it)."""
        rewrite = cloudfront.Function(
            self,
            "PageRoutes",
            code=cloudfront.FunctionCode.from_inline(site_delivery.page_rewrite_function()),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Tollgate: serves /account from account.html",
        )
        for route in site_delivery.PAGE_ROUTES:
            self.distribution.add_behavior(
                route,
                site_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.headers_policy,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            )

    def _security_headers_policy(self, image_origin: str | None) -> cloudfront.ResponseHeadersPolicy:
        """The headers of infra/site_delivery.py, overriding whatever the origin might send."""
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Tollgate signup page: strict CSP, HSTS, nosniff, no framing",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=site_delivery.content_security_policy(image_origin),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(site_delivery.HSTS_MAX_AGE_SECONDS),
                    include_subdomains=site_delivery.HSTS_INCLUDE_SUBDOMAINS,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption[site_delivery.FRAME_OPTION], override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy[
                        site_delivery.REFERRER_POLICY.upper().replace("-", "_")
                    ],
                    override=True,
                ),
            ),
        )

    def _acknowledge_findings(self, *, with_own_certificate: bool) -> None:
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Private origin read only by CloudFront (OAC) and written only by the deployment; it holds the "
            "public static page, so server access logs would add cost without audit value.",
        )
        for rule, reason in (
            ("AwsSolutions-CFR1", "A signup page for a global API: no country is excluded by default."),
            ("AwsSolutions-CFR2", "Static page with no server-side logic; the API routes it calls (/api/*) have "
             "their own throttles and the stage's optional WAF (enable_waf)."),
            ("AwsSolutions-CFR3", "Static public page without user data; CloudFront access logs need an ACL-enabled "
             "log bucket and cost money at idle-free scale. API calls are logged by the API."),
            *(() if with_own_certificate else (
                ("AwsSolutions-CFR4", "Uses the default *.cloudfront.net certificate, whose TLS policy CloudFront "
                 "fixes; set site_domain (docs/custom-domains.md) to serve TLSv1.2_2021 on your own name."),)),
        ):  # fmt: skip
            acknowledge(self.distribution, rule, reason)

        # The BucketDeployment's provider Lambda is CDK's own singleton; its role and runtime are not ours to shape.
        handler_role = self.deployment.handler_role
        provider_reason = "CDK's BucketDeployment provider (a CDK-managed singleton), run only at deploy time."
        acknowledge(
            handler_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            provider_reason,
        )
        acknowledge_wildcards(
            handler_role,
            [
                *(
                    f"Action::s3:{action}"
                    for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")
                ),
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                f"Resource::{arn_of(self.bucket)}/*",
                "Resource::*",
            ],
            provider_reason + " Copies the site from the CDK asset bucket and invalidates the distribution.",
        )
        acknowledge(handler_role.node.scope, "AwsSolutions-L1", provider_reason + " CDK pins its runtime.")

    @property
    def origin(self) -> str:
        """https://<site_domain or the distribution's domain>: where the page and its `/api/...` routes are served."""
        return f"https://{self._domain_name or self.distribution.distribution_domain_name}"

    @property
    def url(self) -> str:
        return f"{self.origin}/"
