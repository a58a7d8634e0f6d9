"""Customer accounts in the stack: verified sign-up, sign-in by emailed link, the signup and account
pages' API on the signup site's own origin, and the retirement of rotated-out keys.

- The customer access table (links, sessions, email counts, retirement reminders; all with a TTL):
  destroyed with the stack, as everything in it is short-lived.
- The account function (contract.HANDLER_ACCOUNT) serves every `/api/...` route but sign-up, its
  confirmation and checkout, which the register and checkout functions serve as on the API
  (contract.SITE_ROUTE_HANDLERS). The account and register functions send email
  through SES v2, only from `email_sender` (`ses:SendEmail` on that identity, or its domain's, with
  `ses:FromAddress` pinned to it).
- The key retirement function runs every RETIREMENT_INTERVAL on EventBridge Scheduler (infra/scheduled.py).
- CloudFront serves `/api/*` from the REST API (`_route_site_api`): so the session cookie is first
  party, HttpOnly and SameSite=Strict, with no CORS. The origin is the API's custom domain (mapped at
  its root to the stage, infra/domains.py) or else the stage's execute-api domain with the stage as
  origin path (built from the API id, not `RestApiOrigin`, whose use of the stage
  URL would make the distribution depend on the stage, whose deployment depends on the gateway
  responses, whose quota answer links the account page on the distribution's domain: a cycle that
  CloudFormation refuses); nothing is cached (CachingDisabled), and every viewer header, cookie
  and query string but Host is forwarded (AllViewerExceptHostHeader; API Gateway needs its own
  Host). A CloudFront Function writes the viewer's IP in contract.VIEWER_IP_HEADER (overwriting
  any the client sent), which WAF counts per-IP limits on; and CloudFront adds a generated secret
  header (contract.SITE_ORIGIN_SECRET_HEADER, the gateway's secret as a dynamic reference: in no
  template) without which WAF refuses `/api/*`, so nobody calls the stage directly with a forged viewer IP (infra/waf.py).
"""

from __future__ import annotations

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.billing_lifecycle import BillingLifecycle
from infra.functions import REGISTER_TIMEOUT, Functions
from infra.gateway import Gateway
from infra.nag import acknowledge, acknowledge_wildcards, arn_of
from infra.scheduled import ScheduledFunction
from infra.settings import Settings
from infra.signup import SignUp
from infra.signup_site import SignupSite
from infra.tables import on_demand_table
from tollgate import contract

RETIREMENT_INTERVAL = Duration.minutes(contract.KEY_RETIREMENT_INTERVAL_MINUTES)
_VIEWER_IP_FUNCTION = f"""function handler(event) {{
  var request = event.request;
  request.headers['{contract.VIEWER_IP_HEADER}'] = {{ value: event.viewer.ip }};
  return request;
}}"""


class CustomerAccounts(Construct):
    """The `access_table`, the `account` and `key_retirement` functions, and the site's `/api/*` route
    to the API; the register function (infra/signup.py) may send email and use the access table."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Functions,
        gateway: Gateway,
        billing: BillingLifecycle,
        signup: SignUp,
        site: SignupSite,
        keys_table: dynamodb.ITable,
        usage_reports_table: dynamodb.ITable | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._accounts_table = billing.accounts_table
        self.access_table = on_demand_table(
            self,
            "AccessTable",
            partition_key=contract.ACCESS_PARTITION_KEY,
            ttl_attribute=contract.ACCESS_TTL_ATTRIBUTE,
            backups=False,
            keep_on_delete=False,
        )
        acknowledge(
            self.access_table,
            "AwsSolutions-DDB3",
            "Holds only short-lived hashes (links, sessions, email counts, reminders), all expiring within "
            "days: a backup could only restore links and sessions that must stay gone.",
        )
        self.access_table.add_global_secondary_index(
            index_name=contract.ACCESS_INDEX_BY_OWNER,
            partition_key=dynamodb.Attribute(name=contract.ACCESS_ATTR_OWNER, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.access_table.add_global_secondary_index(
            index_name=contract.ACCESS_INDEX_DUE,
            partition_key=dynamodb.Attribute(name=contract.ACCESS_ATTR_DUE_KIND, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=contract.ACCESS_ATTR_DUE_AT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        functions.provide(settings.customer_accounts_environment(self.access_table.table_name))

        self.account = functions.business(
            self,
            "Account",
            handler=contract.HANDLER_ACCOUNT,
            timeout=REGISTER_TIMEOUT,
            public=True,
            description="Tollgate /api/*: sign-in by emailed link, the account page, key rotation, Stripe portal",
        )
        role = self.account.role
        keys = gateway.keys
        # Rotation and revocation touch the keys table only (issue 20): no key is created and no quota set.
        keys.grant_enable(role)
        keys.grant_delete(role)  # a key imported by make migrate-keys that ends takes its own API Gateway key
        keys.grant_plan_membership(role, attach=True, detach=True)  # a plan change moves the usage key
        keys.grant_plan_usage(role)  # the account page's quota left
        billing.stripe_secret.grant_read(role)
        gateway.moesif_secret.grant_read(role)  # the rotated key's Moesif user
        billing.accounts_table.grant_read_write_data(role)
        keys_table.grant_read_write_data(role)  # rotation, revocation, plan changes
        billing.acknowledge_accounts_indexes(role)
        if usage_reports_table is not None:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:Query"],
                    resources=[f"{usage_reports_table.table_arn}/index/{contract.USAGE_REPORTS_INDEX_BY_CUSTOMER}"],
                )
            )
        for sender in (self.account.role, signup.register.role):
            self._grant_access(sender)
            self.grant_send_email(sender)

        self.key_retirement = ScheduledFunction(
            self,
            "KeyRetirement",
            functions=functions,
            handler=contract.HANDLER_KEY_RETIREMENT,
            timeout=Duration.seconds(contract.RECONCILER_TIMEOUT_SECONDS),
            interval=RETIREMENT_INTERVAL,
            description="Tollgate key retirement: disables and deletes rotated-out keys once their grace is over",
        )
        retirement_role = self.key_retirement.role
        keys.grant_enable(retirement_role)
        keys.grant_delete(retirement_role)
        billing.accounts_table.grant_read_write_data(retirement_role)
        keys_table.grant_read_write_data(retirement_role)  # marks rotated-out keys retired
        billing.acknowledge_accounts_indexes(retirement_role)
        self._grant_access(retirement_role)

        gateway.add_site_routes(contract.HANDLER_ACCOUNT, self.account.function)
        self._route_site_api(
            site.distribution,
            gateway.domain,
            gateway.origin_path,
            site.headers_policy,
            gateway.site_origin_secret_value,
        )
        if settings.email_sender_is_placeholder:
            Annotations.of(self).add_warning_v2(
                "tollgate:placeholder-email-sender",
                f"email_sender is the placeholder {settings.email_sender!r}: sign-up confirmations and sign-in links "
                "cannot be sent until you set an address (or domain) verified in Amazon SES in cdk.json or with "
                "-c email_sender=... (docs/customer-accounts.md, 'Amazon SES setup')",
            )

    def _route_site_api(
        self,
        distribution: cloudfront.Distribution,
        api_domain: str,
        origin_path: str,
        headers_policy: cloudfront.IResponseHeadersPolicy,
        site_origin_secret: str,
    ) -> None:
        """CloudFront's `/api/*` behaviour to the REST API's stage at `api_domain` + `origin_path` (the
        account routes live under /api/ on the API too, so no path is rewritten)."""
        viewer_ip = cloudfront.Function(
            self,
            "ViewerIp",
            code=cloudfront.FunctionCode.from_inline(_VIEWER_IP_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment=f"Tollgate: the viewer's IP in {contract.VIEWER_IP_HEADER} for WAF's per-IP limits",
        )
        distribution.add_behavior(
            contract.SITE_API_PREFIX + "*",
            origins.HttpOrigin(
                api_domain,
                origin_path=origin_path or None,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                custom_headers={contract.SITE_ORIGIN_SECRET_HEADER: site_origin_secret},
            ),
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            response_headers_policy=headers_policy,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=viewer_ip, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )

    def _grant_access(self, role: iam.IRole) -> None:
        self.access_table.grant_read_write_data(role)
        acknowledge_wildcards(
            role,
            [f"Resource::{arn_of(self.access_table)}/index/*"],
            "The access table's sessions by owner and reminders by due time are GSIs, only "
            "reachable as <table>/index/*.",
        )

    def grant_send_email(self, role: iam.IRole) -> None:
        """SES v2 SendEmail from `email_sender` only (the functions that email customers)."""
        stack, sender = Stack.of(self), self._settings.email_sender
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    f"arn:{stack.partition}:ses:{stack.region}:{stack.account}:identity/{identity}"
                    for identity in (sender, sender.rpartition("@")[2])
                ],
                conditions={"StringEquals": {"ses:FromAddress": sender}},
            )
        )
