"""Which adapter serves which port. Every object a Tollgate entry point uses (settings, AWS
clients, the secret, adapters, services) is built here, and only here.

Built lazily: nothing is made before an entry point asks for it, and then once per process (a
Lambda instance), so a request pays only for what it uses (a sign-up without Idempotency-Key never
builds the idempotency store) and every AWS client comes from one boto3 session. Tests build a
Wiring with fakes in place of any field and `install` it instead of re-importing modules:

    with wiring.installed(Wiring(config, api_keys=FakeApiKeys(), billing=FakeBilling())):
        handler(event, context)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_key_items import DynamoKeyItems
from tollgate.adapters.dynamo_key_pools import DynamoKeyPools
from tollgate.adapters.dynamo_reconciler_runs import DynamoReconcilerRuns
from tollgate.adapters.moesif_analytics import MoesifAnalytics
from tollgate.adapters.secrets import SecretStore
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_checkout import StripePaymentMethods
from tollgate.adapters.stripe_client import StripeClientForSecret
from tollgate.adapters.stripe_webhook_events import StripeWebhookEvents
from tollgate.config import RuntimeConfig
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.cleanup import Cleanup
from tollgate.domain.housekeeping import Housekeeping
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.key_items import KeyIssuer, stripe_key_mode
from tollgate.domain.key_pools import KeyPoolProvisioner
from tollgate.domain.lifecycle import LifecycleService
from tollgate.domain.plan_changes import PlanChanges
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.analytics import Analytics
from tollgate.domain.ports.billing import Billing, PaymentMethods
from tollgate.domain.ports.keys import ApiKeys, KeyItems, KeyPools, PlanUsage
from tollgate.domain.ports.metrics import Metrics
from tollgate.domain.ports.reconciler_runs import ReconcilerRuns
from tollgate.domain.reconciliation import Reconciler
from tollgate.domain.registration import RegistrationService
from tollgate.domain.usage_keys import UsageKeys
from tollgate.metrics import EmbeddedMetrics
from tollgate.wiring_credits import CreditWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from tollgate.adapters.sqs_usage_queues import UsageQueues
    from tollgate.domain.account_emails import AccountEmails
    from tollgate.domain.account_keys import AccountKeys
    from tollgate.domain.account_overview import AccountOverviews
    from tollgate.domain.email_links import EmailLinks
    from tollgate.domain.evidence import InvoiceEvidence
    from tollgate.domain.metering import UsageReporter
    from tollgate.domain.ports.billing import AccountBilling
    from tollgate.domain.ports.customer_access import CustomerAccess
    from tollgate.domain.ports.mail import Mailer
    from tollgate.domain.ports.metering import UsageEvidence, UsageLedger, UsageMeter, UsageReports
    from tollgate.domain.ports.usage_counts import UsageCounts
    from tollgate.domain.sessions import CustomerSessions
    from tollgate.domain.spend_choices import SpendChoices
    from tollgate.domain.spend_watch import BillingPeriods, SpendMeter
    from tollgate.domain.usage_alerts import UsageAlerts
    from tollgate.domain.usage_limits import UsageLimits
    from tollgate.domain.verified_sign_up import VerifiedSignUp


class Wiring(CreditWiring):
    """The process's objects, each built on first use from `config`. Keyword arguments replace
    any of them (tests pass fakes); an unknown name is a TypeError, so a typo cannot go unnoticed."""

    def __init__(self, config: RuntimeConfig, **replacements: object):
        unknown = sorted(set(replacements) - _BUILT_HERE)
        if unknown:
            raise TypeError(f"Wiring has no {', '.join(unknown)}; it builds {', '.join(sorted(_BUILT_HERE))}")
        self.config = config
        self.__dict__.update(replacements)  # cached_property reads the instance dict first

    @cached_property
    def clock(self) -> Callable[[], float]:
        """The time every service reads (epoch seconds): a test hands in a settable one
        (testkit.clock.Clock) to reach a grace, lease or window's end without waiting for it."""
        return time.time

    @cached_property
    def aws(self) -> AwsClients:
        return AwsClients()

    @cached_property
    def metrics(self) -> Metrics:
        return EmbeddedMetrics(self.config.stage)

    @cached_property
    def stripe_secret(self) -> SecretStore:
        return SecretStore(self.config.stripe_secret_arn, self.aws.client("secretsmanager"))

    @cached_property
    def moesif_secret(self) -> SecretStore:
        return SecretStore(self.config.moesif_secret_arn, self.aws.client("secretsmanager"))

    @cached_property
    def stripe(self) -> StripeClientForSecret:
        return StripeClientForSecret(self._stripe_secret_key, self.config.stripe_api_base)

    def _stripe_secret_key(self) -> str:
        """Read when first needed (and re-read when the secret store's cache expires), never at build."""
        return self.stripe_secret.load().field(contract.SECRET_FIELD_STRIPE_SECRET_KEY)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return ApiGatewayKeys(self.aws.client("apigateway"), self.config.key_owner)

    @cached_property
    def accounts(self) -> Accounts:
        return DynamoAccounts(self.aws.client("dynamodb"), self.config.accounts_table)

    @cached_property
    def key_items(self) -> KeyItems:
        return DynamoKeyItems(self.aws.client("dynamodb"), self.config.keys_table)

    @cached_property
    def key_pools(self) -> KeyPools:
        return DynamoKeyPools(self.aws.client("dynamodb"), self.config.accounts_table)

    @cached_property
    def usage_keys(self) -> UsageKeys:
        return UsageKeys(self.api_keys, self.key_pools, clock=self.clock)

    @cached_property
    def key_pool_provisioner(self) -> KeyPoolProvisioner:
        return KeyPoolProvisioner(self.api_keys, self.key_pools, self.config.plans, clock=self.clock)

    @cached_property
    def key_issuer(self) -> KeyIssuer:
        """Keys in `test` mode while Stripe's key is a test key (the secret is read when a key is issued)."""
        return KeyIssuer(self.config.key_prefix, lambda: stripe_key_mode(self._stripe_secret_key()))

    @cached_property
    def reconciler_runs(self) -> ReconcilerRuns:
        return DynamoReconcilerRuns(self.aws.client("dynamodb"), self.config.accounts_table)

    @cached_property
    def billing(self) -> Billing:
        return StripeBilling(self.stripe)

    @cached_property
    def payment_methods(self) -> PaymentMethods:
        return StripePaymentMethods(self.stripe)

    @cached_property
    def analytics(self) -> Analytics:
        return MoesifAnalytics(self._moesif_application_id, self.config.moesif_api_base)

    def _moesif_application_id(self) -> str:
        return self.moesif_secret.load().field(contract.SECRET_FIELD_MOESIF_APPLICATION_ID)

    @cached_property
    def webhook_events(self) -> StripeWebhookEvents:
        return StripeWebhookEvents(lambda: self.stripe_secret.load().field(contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET))

    @cached_property
    def idempotency_store(self) -> BasePersistenceLayer:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.config.idempotency_table, boto3_client=self.aws.client("dynamodb")
        )

    @cached_property
    def registration(self) -> RegistrationService:
        return RegistrationService(
            self.api_keys,
            self.billing,
            self.analytics,
            self.accounts,
            metrics=self.metrics,
            plans=self.config.plans,
            key_items=self.key_items,
            usage_keys=self.usage_keys,
            issuer=self.key_issuer,
            clock=self.clock,
        )

    @cached_property
    def cleanup(self) -> Cleanup:
        return Cleanup(self.api_keys, self.billing, self.accounts, self.config.plans, self.key_items)

    @cached_property
    def key_enforcer(self) -> KeyEnforcer:
        return KeyEnforcer(
            self.accounts, self.api_keys, self.key_items, self.config.plans, self.metrics, self.usage_keys, self.clock
        )

    @cached_property
    def lifecycle(self) -> LifecycleService:
        return LifecycleService(
            self.accounts,
            self.billing,
            self.payment_methods,
            plans=self.config.plans,
            plan_changes=self.plan_changes,
            enforcer=self.key_enforcer,
            clock=self.clock,
        )

    @cached_property
    def plan_changes(self) -> PlanChanges:
        return PlanChanges(self.accounts, self.billing, self.checkout, self.config.plans, self.key_enforcer, self.clock)

    @cached_property
    def reconciler(self) -> Reconciler:
        return Reconciler(self.billing, self.accounts, self.reconciler_runs, self.lifecycle, clock=self.clock)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        return Housekeeping(
            self.accounts,
            self.api_keys,
            self.key_items,
            self.config.canceled_key_retention_days,
            self.key_pool_provisioner,
            clock=self.clock,
        )

    @cached_property
    def checkout(self) -> PaymentMethodCheckout:
        return PaymentMethodCheckout(
            self.accounts, self.key_items, self.payment_methods, self.config.signup_url, self.clock
        )

    # Usage metering: imported on first use, as only the usage reporter and the ops commands need it.
    @cached_property
    def usage_ledger(self) -> UsageLedger:
        from tollgate.adapters.s3_usage_ledger import S3UsageLedger

        return S3UsageLedger(self.aws.client("s3"), self.config.require_usage().ledger_bucket)

    @cached_property
    def usage_meter(self) -> UsageMeter:
        from tollgate.adapters.stripe_usage_meter import StripeUsageMeter

        return StripeUsageMeter(self.stripe, self.config.plans.default.price_id)

    @cached_property
    def usage_reports(self) -> UsageReports:
        from tollgate.adapters.dynamo_usage_reports import DynamoUsageReports

        return DynamoUsageReports(self.aws.client("dynamodb"), self.config.require_usage().reports_table)

    @cached_property
    def usage_evidence(self) -> UsageEvidence:
        from tollgate.adapters.s3_usage_evidence import S3UsageEvidence

        return S3UsageEvidence(self.aws.client("s3"), self.config.require_usage().ledger_bucket, clock=self.clock)

    @cached_property
    def usage_queues(self) -> UsageQueues:
        from tollgate.adapters.sqs_usage_queues import UsageQueues

        return UsageQueues(self.aws.client("sqs"))

    @cached_property
    def usage_plan_usage(self) -> PlanUsage:
        from tollgate.adapters.api_gateway_usage import UsagePlanUsage

        return UsagePlanUsage(self.aws.client("apigateway"), self.config.plans.usage_plan_ids)

    @cached_property
    def usage_counts(self) -> UsageCounts:
        from tollgate.adapters.dynamo_usage_counts import DynamoUsageCounts

        return DynamoUsageCounts(self.aws.client("dynamodb"), self.config.require_usage().counts_table)

    @cached_property
    def usage_reporter(self) -> UsageReporter:
        from tollgate.domain.metering import UsageReporter
        from tollgate.domain.usage_counting import UsageTally

        return UsageReporter(
            self.usage_ledger,
            self.accounts,
            self.usage_meter,
            self.usage_reports,
            self.usage_evidence,
            UsageTally(self.usage_counts),
            self.usage_limits,
            self.usage_alerts,
            self.config.require_usage().billable_statuses,
            self.config.plans,
            self.clock,
        )

    @cached_property
    def usage_limits(self) -> UsageLimits:
        from tollgate.domain.spend_watch import SpendCapRule
        from tollgate.domain.usage_limits import QuotaRule, UsageLimits

        return UsageLimits(
            self.accounts,
            self.key_enforcer,
            self.config.plans,
            [QuotaRule(self.usage_counts), SpendCapRule(self.spend_meter)],
            self.clock,
        )

    @cached_property
    def spend_meter(self) -> SpendMeter:
        from tollgate.domain.spend_watch import SpendMeter

        return SpendMeter(self.usage_counts, self.billing_periods, self.usage_meter.unit_price, self.clock)

    @cached_property
    def billing_periods(self) -> BillingPeriods:
        from tollgate.domain.spend_watch import BillingPeriods

        return BillingPeriods(self.billing, self.clock)

    # Customer accounts (verified sign-up, sign-in, the account page, key rotation): imported on first
    # use, as only the register, account and key-retirement functions need them.
    @cached_property
    def mailer(self) -> Mailer:
        from tollgate.adapters.ses_mailer import SesMailer

        return SesMailer(self.aws.client("sesv2"), self.config.require_accounts().email_sender)

    @cached_property
    def customer_access(self) -> CustomerAccess:
        from tollgate.adapters.dynamo_customer_access import DynamoCustomerAccess

        return DynamoCustomerAccess(self.aws.client("dynamodb"), self.config.require_accounts().access_table)

    @cached_property
    def account_billing(self) -> AccountBilling:
        from tollgate.adapters.stripe_account_billing import StripeAccountBilling

        return StripeAccountBilling(self.stripe)

    @cached_property
    def account_emails(self) -> AccountEmails:
        from tollgate.domain.account_emails import AccountEmails

        return AccountEmails(self.config.signup_url, self.config.require_accounts().link_ttl_seconds)

    @cached_property
    def email_links(self) -> EmailLinks:
        from tollgate.domain.email_links import EmailLinks

        accounts = self.config.require_accounts()
        return EmailLinks(
            self.customer_access,
            self.mailer,
            ttl_seconds=accounts.link_ttl_seconds,
            emails_per_hour=accounts.emails_per_address_per_hour,
            clock=self.clock,
        )

    @cached_property
    def verified_sign_up(self) -> VerifiedSignUp:
        from tollgate.domain.verified_sign_up import VerifiedSignUp

        return VerifiedSignUp(self.accounts, self.email_links, self.account_emails, self.registration)

    @cached_property
    def sessions(self) -> CustomerSessions:
        from tollgate.domain.sessions import CustomerSessions

        return CustomerSessions(
            self.accounts, self.customer_access, self.email_links, self.account_emails, clock=self.clock
        )

    @cached_property
    def account_keys(self) -> AccountKeys:
        from tollgate.domain.account_keys import AccountKeys

        return AccountKeys(
            self.accounts,
            self.key_items,
            self.customer_access,
            self.key_enforcer,
            self.api_keys,
            issuer=self.key_issuer,
            grace_seconds=self.config.require_accounts().key_rotation_grace_seconds,
            clock=self.clock,
        )

    @cached_property
    def account_overviews(self) -> AccountOverviews:
        from tollgate.domain.account_overview import AccountOverviews

        return AccountOverviews(
            self.account_billing,
            self.usage_plan_usage,
            self.usage_reports if self.config.usage is not None else None,
            self.config.plans,
            self.clock,
        )

    @cached_property
    def spend_choices(self) -> SpendChoices:
        from tollgate.domain.spend_choices import SpendChoices

        # Without usage counts (usage_reporter=moesif) nothing measures usage: no alert, no cap to decide.
        return SpendChoices(
            self.accounts,
            self.config.plans,
            self.usage_meter.unit_price,
            self.usage_limits if self.config.usage is not None else None,
            self.billing_periods,
            self.clock,
        )

    @cached_property
    def usage_alerts(self) -> UsageAlerts:
        from tollgate.domain.usage_alerts import UsageAlerts

        return UsageAlerts(
            self.accounts, self.mailer, self.account_emails, self.config.plans, self.spend_meter, self.clock
        )

    # Prepaid credits: the webhook adds what was bought, the account page sells and shows it.
    @cached_property
    def invoice_evidence(self) -> InvoiceEvidence:
        from tollgate.domain.evidence import InvoiceEvidence

        return InvoiceEvidence(self.usage_evidence if self.config.usage is not None else None, self.account_billing)


_BUILT_HERE = frozenset(
    name for part in Wiring.__mro__ for name, value in vars(part).items() if isinstance(value, cached_property)
)


# The process's one Wiring lives in tollgate.process_wiring; every entry point asks for it as `wiring.current()`.
from tollgate.process_wiring import current as current  # noqa: E402 - it builds a Wiring, defined above
from tollgate.process_wiring import installed as installed  # noqa: E402
