"""TollgateStack: the features of docs/architecture.md, each owning its tables, functions, routes and
schedules; a feature receives what it uses from the features it names (no build phases).

The constructs live by feature, and every resource keeps the logical id a deployed stack knows it
by (infra/legacy_ids.py; tests/infra/test_logical_ids.py)."""

from __future__ import annotations

from aws_cdk import Aspects, Stack, Tags
from constructs import Construct

from infra.authorizer import KeyAuthorizer
from infra.billing_lifecycle import BillingLifecycle
from infra.customer_accounts import CustomerAccounts
from infra.domains import Domains
from infra.functions import Functions
from infra.gateway import Gateway
from infra.legacy_ids import KeepLogicalIds
from infra.operations import Operations
from infra.prepaid_credits import PrepaidCredits
from infra.settings import Settings
from infra.signup import SignUp
from infra.signup_site import SignupSite
from infra.spend_control import SpendControl
from infra.tracing import ActiveTracing
from infra.usage_limits import UsageLimits
from infra.usage_metering import UsageMetering


class TollgateStack(Stack):
    """The whole product in one stack: API + usage plans, Firehose -> Moesif, sign-up, billing, site."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs) -> None:
        super().__init__(scope, construct_id, description="Tollgate: a paid API in one stack", **kwargs)
        Tags.of(self).add("project", "tollgate")
        functions = Functions(
            name_prefix=f"{self.stack_name}-{settings.stage_name}", reserved_concurrency=settings.reserved_concurrency
        )

        self.domains = Domains(self, "Domains", settings=settings.domains) if settings.domains.any else None
        self.key_authorizer = KeyAuthorizer(
            self, "KeyAuthorizer", functions=functions, cache_seconds=settings.authorizer_cache_seconds
        )
        self.gateway = Gateway(
            self,
            "Api",
            settings=settings,
            functions=functions,
            authorizer=self.key_authorizer.authorizer,
            domains=self.domains,
        )
        self.site = SignupSite(
            self,
            "SignupSite",
            gateway=self.gateway,
            functions=functions,
            plans=settings.plans,
            branding=settings.branding,
            domains=self.domains,
        )
        keys_table = self.key_authorizer.keys_table
        self.billing = BillingLifecycle(
            self,
            "BillingLifecycle",
            settings=settings,
            functions=functions,
            gateway=self.gateway,
            keys_table=keys_table,
        )
        self.signup = SignUp(
            self, "SignUp", functions=functions, gateway=self.gateway, billing=self.billing, keys_table=keys_table
        )
        self.usage_metering = (
            UsageMetering(
                self,
                "UsageMetering",
                ledger_bucket=self.gateway.access_logs.ledger_bucket,
                billable_statuses=settings.billable_statuses,
                functions=functions,
                billing=self.billing,
            )
            if settings.reports_usage
            else None
        )
        self.usage_limits = (
            UsageLimits(
                self,
                "UsageLimits",
                gateway=self.gateway,
                key_authorizer=self.key_authorizer,
                accounts_table=self.billing.accounts_table,
                reporter_role=self.usage_metering.reporter.role,
            )
            if self.usage_metering is not None
            else None
        )
        self.customer_accounts = CustomerAccounts(
            self,
            "CustomerAccounts",
            settings=settings,
            functions=functions,
            gateway=self.gateway,
            billing=self.billing,
            signup=self.signup,
            site=self.site,
            keys_table=keys_table,
            usage_reports_table=self.usage_metering.reports_table if self.usage_metering else None,
        )
        if self.usage_metering is not None:  # the account page's download of the evidence (issue 21)
            self.usage_metering.grant_evidence_download(self.customer_accounts.account.role)
        self.spend_control = (
            SpendControl(
                self,
                "SpendControl",
                usage_metering=self.usage_metering,
                customer_accounts=self.customer_accounts,
            )
            if self.usage_metering is not None
            else None
        )
        self.prepaid_credits = PrepaidCredits(
            self,
            "PrepaidCredits",
            functions=functions,
            webhook=self.billing.stripe_webhook.role,
            account_page=self.customer_accounts.account.role,
        )
        self.operations = Operations(
            self,
            "Operations",
            settings=settings,
            functions=functions,
            gateway=self.gateway,
            billing=self.billing,
            signup=self.signup,
            customer_accounts=self.customer_accounts,
            usage_metering=self.usage_metering,
            key_authorizer=self.key_authorizer,
        )

        Aspects.of(self).add(KeepLogicalIds())
        if settings.enable_tracing:
            Aspects.of(self).add(ActiveTracing())
