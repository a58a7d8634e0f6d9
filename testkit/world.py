"""One deployment on fakes: every port as an in-memory fake and every domain service built on them,
wired the way tollgate.wiring wires the real ones, sharing one settable clock. Tests and the
benchmark build their world here instead of wiring services by hand, so a service's constructor
changes in one place.

    world = World.create()
    account = world.signed_up("ada@example.com")
    world.plan_changes.request(account, "free", "req-1", RETURN_URL)
    world.lifecycle.handle(event)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property

from testkit.account_settings import EMAILS_PER_HOUR, GRACE_SECONDS, ISSUER, LINK_TTL_SECONDS
from testkit.clock import Clock
from testkit.fake_access import FakeAccountBilling, FakeCustomerAccess, FakeMailer, FakePlanUsage
from testkit.fake_billing import FakeBilling, FakePaymentMethods
from testkit.fake_credits import FakeCreditLedger, FakeCreditSales
from testkit.fake_metering import (
    FakeUsageEvidence,
    FakeUsageLedger,
    FakeUsageMeter,
    FakeUsageReports,
    call_record,
    ledger_bytes,
)
from testkit.fake_ports import (
    TEST_PLANS,
    FakeAccounts,
    FakeAnalytics,
    FakeApiKeys,
    FakeKeyItems,
    FakeMetrics,
    FakePorts,
)
from testkit.fake_usage_counts import FakeUsageCounts
from testkit.inline_executor import INLINE
from tollgate.domain.account import Account, AccountStatus, StatusChange
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.account_keys import AccountKeys
from tollgate.domain.account_overview import AccountOverviews
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.credit_purchases import CreditPurchases
from tollgate.domain.credits import CreditBook
from tollgate.domain.email_links import EmailLinks
from tollgate.domain.evidence import InvoiceEvidence
from tollgate.domain.housekeeping import Housekeeping
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.key_items import KeyItem
from tollgate.domain.key_pools import KeyPoolProvisioner
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    LifecycleService,
    Outcome,
)
from tollgate.domain.metering import UsageReporter
from tollgate.domain.models import Registrant
from tollgate.domain.plan_changes import PlanChanges
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.reconciliation import PAGE_SIZE, STRIPE_OPERATIONS_PER_SECOND, Reconciler
from tollgate.domain.registration import RegistrationService
from tollgate.domain.sessions import CustomerSessions
from tollgate.domain.spend_choices import SpendChoices
from tollgate.domain.spend_watch import BillingPeriods, SpendCapRule, SpendMeter
from tollgate.domain.usage import BillableStatuses
from tollgate.domain.usage_alerts import UsageAlerts
from tollgate.domain.usage_counting import UsageTally
from tollgate.domain.usage_keys import UsageKeys
from tollgate.domain.usage_limits import QuotaRule, UsageLimits
from tollgate.domain.verified_sign_up import VerifiedSignUp
from tollgate.plans import PlanCatalog

SITE_URL = "https://shop.example/"
CANCELED_KEY_RETENTION_DAYS = 30


@dataclass
class World:
    """Every fake (`ports` and the rest) and, built on first use, every service on them."""

    ports: FakePorts
    payments: FakePaymentMethods
    access: FakeCustomerAccess
    mailer: FakeMailer
    account_billing: FakeAccountBilling
    plan_usage: FakePlanUsage
    ledger: FakeUsageLedger
    meter: FakeUsageMeter
    reports: FakeUsageReports
    clock: Clock
    plans: PlanCatalog = TEST_PLANS
    stripe_operations_per_second: float = STRIPE_OPERATIONS_PER_SECOND  # the reconciler's pace
    reconciler_page_size: int = PAGE_SIZE
    evidence: FakeUsageEvidence = field(default_factory=FakeUsageEvidence)
    credit_ledger: FakeCreditLedger = field(default_factory=FakeCreditLedger)
    credit_sales: FakeCreditSales = field(default_factory=FakeCreditSales)
    counts: FakeUsageCounts = field(default_factory=FakeUsageCounts)
    issued: dict[str, str] = field(default_factory=dict)  # email -> the key its sign-up answered with
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)  # of `customer`s

    @classmethod
    def create(
        cls,
        plans: PlanCatalog = TEST_PLANS,
        start: float | None = None,
        accounts: Accounts | None = None,
        stripe_operations_per_second: float = STRIPE_OPERATIONS_PER_SECOND,
        reconciler_page_size: int = PAGE_SIZE,
    ) -> World:
        """`accounts`: another store than a FakeAccounts (DynamoAccounts on moto, testkit.interleaving)."""
        ports, clock = FakePorts.create(), Clock(start)
        if accounts is not None:
            ports = replace(ports, accounts=accounts)  # type: ignore[arg-type]  # `accounts` says why
        ports.billing.clock = ports.api_keys.clock = clock
        return cls(
            ports,
            FakePaymentMethods(ports.billing),
            FakeCustomerAccess(),
            FakeMailer(),
            FakeAccountBilling(),
            FakePlanUsage(),
            FakeUsageLedger(),
            FakeUsageMeter(clock, plans.default.price_id),
            FakeUsageReports(),
            clock,
            plans,
            stripe_operations_per_second,
            reconciler_page_size,
        )

    # --- the fakes most tests reach for ---------------------------------------------------------

    @property
    def accounts(self) -> FakeAccounts:
        return self.ports.accounts  # type: ignore[return-value]  # or the store `create` was given

    @property
    def api_keys(self) -> FakeApiKeys:
        return self.ports.api_keys

    @property
    def key_items(self) -> FakeKeyItems:
        return self.ports.key_items

    @property
    def billing(self) -> FakeBilling:
        return self.ports.billing

    @property
    def analytics(self) -> FakeAnalytics:
        return self.ports.analytics

    @property
    def metrics(self) -> FakeMetrics:
        return self.ports.metrics

    # --- the services, as tollgate.wiring builds them ---------------------------------------------

    @cached_property
    def registration(self) -> RegistrationService:
        return RegistrationService(
            self.api_keys,
            self.billing,
            self.analytics,
            self.accounts,
            executor=INLINE,
            clock=self.clock,
            metrics=self.metrics,
            plans=self.plans,
            key_items=self.key_items,
            usage_keys=self.usage_keys,
            issuer=ISSUER,
        )

    @cached_property
    def usage_keys(self) -> UsageKeys:
        return UsageKeys(self.api_keys, self.ports.key_pools, clock=self.clock, sleep=self.clock.sleep)

    @cached_property
    def pool_provisioner(self) -> KeyPoolProvisioner:
        return KeyPoolProvisioner(
            self.api_keys, self.ports.key_pools, self.plans, clock=self.clock, sleep=self.clock.sleep
        )

    @cached_property
    def enforcer(self) -> KeyEnforcer:
        return KeyEnforcer(
            self.accounts, self.api_keys, self.key_items, self.plans, self.metrics, self.usage_keys, self.clock
        )

    @cached_property
    def checkout(self) -> PaymentMethodCheckout:
        return PaymentMethodCheckout(self.accounts, self.key_items, self.payments, SITE_URL, self.clock)

    @cached_property
    def plan_changes(self) -> PlanChanges:
        return PlanChanges(self.accounts, self.billing, self.checkout, self.plans, self.enforcer, self.clock)

    @cached_property
    def lifecycle(self) -> LifecycleService:
        return LifecycleService(
            self.accounts,
            self.billing,
            self.payments,
            plans=self.plans,
            plan_changes=self.plan_changes,
            enforcer=self.enforcer,
            clock=self.clock,
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        return Reconciler(
            self.billing,
            self.accounts,
            self.ports.reconciler_runs,
            self.lifecycle,
            clock=self.clock,
            sleep=self.clock.sleep,
            operations_per_second=self.stripe_operations_per_second,
            page_size=self.reconciler_page_size,
        )

    @cached_property
    def housekeeping(self) -> Housekeeping:
        return Housekeeping(
            self.accounts,
            self.api_keys,
            self.key_items,
            CANCELED_KEY_RETENTION_DAYS,
            self.pool_provisioner,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    @cached_property
    def account_keys(self) -> AccountKeys:
        return AccountKeys(
            self.accounts,
            self.key_items,
            self.access,
            self.enforcer,
            self.api_keys,
            issuer=ISSUER,
            grace_seconds=GRACE_SECONDS,
            clock=self.clock,
        )

    @cached_property
    def reporter(self) -> UsageReporter:
        return UsageReporter(
            self.ledger,
            self.accounts,
            self.meter,
            self.reports,
            self.evidence,
            UsageTally(self.counts),
            self.usage_limits,
            self.usage_alerts,
            BillableStatuses.parse("2xx"),
            self.plans,
            self.clock,
        )

    @cached_property
    def usage_limits(self) -> UsageLimits:
        return UsageLimits(
            self.accounts,
            self.enforcer,
            self.plans,
            [QuotaRule(self.counts), SpendCapRule(self.spend_meter)],
            self.clock,
        )

    @cached_property
    def spend_meter(self) -> SpendMeter:
        return SpendMeter(self.counts, self.billing_periods, self.meter.unit_price, self.clock)

    @cached_property
    def billing_periods(self) -> BillingPeriods:
        return BillingPeriods(self.billing, self.clock)

    @cached_property
    def invoice_evidence(self) -> InvoiceEvidence:
        return InvoiceEvidence(self.evidence, self.account_billing)

    @cached_property
    def overviews(self) -> AccountOverviews:
        return AccountOverviews(self.account_billing, self.plan_usage, self.reports, self.plans, self.clock)

    @cached_property
    def emails(self) -> AccountEmails:
        return AccountEmails(SITE_URL, LINK_TTL_SECONDS)

    @cached_property
    def links(self) -> EmailLinks:
        return EmailLinks(
            self.access, self.mailer, ttl_seconds=LINK_TTL_SECONDS, emails_per_hour=EMAILS_PER_HOUR, clock=self.clock
        )

    @cached_property
    def sign_up(self) -> VerifiedSignUp:
        return VerifiedSignUp(self.accounts, self.links, self.emails, self.registration)

    @cached_property
    def sessions(self) -> CustomerSessions:
        return CustomerSessions(self.accounts, self.access, self.links, self.emails, clock=self.clock)

    @cached_property
    def spend_choices(self) -> SpendChoices:
        return SpendChoices(
            self.accounts, self.plans, self.meter.unit_price, self.usage_limits, self.billing_periods, self.clock
        )

    @cached_property
    def usage_alerts(self) -> UsageAlerts:
        return UsageAlerts(self.accounts, self.mailer, self.emails, self.plans, self.spend_meter, self.clock)

    @cached_property
    def credit_purchases(self) -> CreditPurchases:
        return CreditPurchases(self.accounts, self.credit_sales, CreditBook(self.credit_ledger), self.plans)

    # --- what customers do --------------------------------------------------------------------

    def signed_up(self, email: str = "ada@example.com", plan_id: str | None = None) -> Account:
        """A customer who confirmed the emailed link: their account as stored."""
        self.sign_up.request(Registrant(email, "Ada", "Lovelace", plan_id))
        self.issued[email] = self.sign_up.confirm(self.mailer.last_token(email)).key.value
        account = self.accounts.get(email)
        assert account is not None
        return account

    def can_call(self, key: str) -> bool:
        """What the stage decides now for a call presenting `key` (testkit.fake_ports.FakePorts.can_call)."""
        return self.ports.can_call(key, self.clock())

    def signed_in(self, email: str = "ada@example.com") -> str:
        """The session token of a customer who opened the emailed sign-in link, an hour after the last
        email (the address's hourly share of emails is never what a test runs into by accident)."""
        self.clock.advance(3600)
        self.sessions.request_sign_in(email)
        token, _ = self.sessions.open(self.mailer.last_token(email))
        return token

    def billable_calls(self, usage_key_id: str, count: int) -> None:
        """`count` billable calls now under a usage key, in one ledger object the reporter reports;
        then a minute passes."""
        at_ms = int(self.clock() * 1000)
        source = self.ledger.put(ledger_bytes([call_record(usage_key_id, at_ms=at_ms + n) for n in range(count)]))
        self.reporter.report_object(source)
        self.clock.advance(60)

    # --- customers as a test finds them: rows seeded as if their past had happened ------------------

    def customer(
        self,
        status: AccountStatus = AccountStatus.ACTIVE,
        stripe_status: str = "active",
        *,
        email: str | None = None,
        key_works: bool | None = None,
        since: int | None = None,
        status_since: int | None = None,
    ) -> Account:
        """A stored customer whose row says `status` while Stripe says `stripe_status` (they may
        disagree: the webhook that would align them was lost). They signed up `since` (a day ago
        unless said) and their row took `status` then, or at `status_since`. Their usage key is in the
        default plan's usage plan and works if the row is active (unless `key_works` says otherwise);
        they hold one customer key, its item stored; the row says the keys match it."""
        number = next(self._numbers)
        since = int(self.clock()) - 86400 if since is None else since
        email = email or f"customer{number}@example.com"
        plan = self.plans.default
        usage = self.api_keys.create_key(f"tollgate-{email}", "usage key")
        self.api_keys.attach_to_plan(usage.id, plan.usage_plan_id)
        if not (status is AccountStatus.ACTIVE if key_works is None else key_works):
            self.api_keys.set_enabled(usage.id, False)
        customer_id, subscription_id = f"cus_{number:04d}", f"sub_{number:04d}"
        self.billing.customers[customer_id] = {"email": email, "metadata": {}}
        self.billing.put_subscription(subscription_id, customer_id, stripe_status, plan.price_id, created=since)
        _, record = ISSUER.issue(since)
        history = (
            (StatusChange(since, status, "sign-up"),)
            if status_since is None
            else (
                StatusChange(since, AccountStatus.ACTIVE, "sign-up"),
                StatusChange(
                    status_since,
                    status,
                    SUBSCRIPTION_DELETED if status is AccountStatus.CANCELED else SUBSCRIPTION_UPDATED,
                ),
            )
        )
        account = Account(
            email=email,
            status=status,
            api_key_id=usage.id,
            usage_key=usage.value,
            keys=(record,),
            account_id=f"acct_{number:04d}",
            customer_id=customer_id,
            subscription_id=subscription_id,
            attempt_id=f"attempt-{number}",
            updated_at=status_since or since,
            history=history,
        ).with_keys_synced()
        self.accounts.rows[email] = account
        self.key_items.put(KeyItem.of(account, record))
        return account

    def row(self, account: Account) -> Account:
        """`account`'s row as stored now."""
        return self.accounts.rows[account.email]

    def key_works(self, account: Account) -> bool:
        """Whether API Gateway lets `account`'s usage key call the API now."""
        return account.api_key_id is not None and self.api_keys.can_call_api(account.api_key_id)

    def set_stripe_status(self, account: Account, status: str) -> None:
        """Stripe's subscription of `account` is `status` now (no event sent)."""
        assert account.subscription_id is not None, f"{account.email} has no subscription"
        self.billing.subscriptions[account.subscription_id]["status"] = status

    def billing_event(self, account: Account, event_type: str, created: int | None = None, **fields) -> BillingEvent:
        """A Stripe event about `account` (its customer and, but for a completed Checkout, its
        subscription; `fields` override), created now unless said."""
        about = {"customer_id": account.customer_id}
        if event_type != CHECKOUT_COMPLETED:
            about["subscription_id"] = account.subscription_id
        return BillingEvent(
            id=f"evt_{next(_event_ids)}",
            type=event_type,
            created=int(self.clock()) if created is None else created,
            **(about | fields),
        )

    def stripe_sends(self, account: Account, event_type: str, created: int | None = None, **fields) -> Outcome:
        """Stripe delivers an event about `account` (`billing_event`) to the lifecycle."""
        return self.lifecycle.handle(self.billing_event(account, event_type, created, **fields))


_event_ids = itertools.count(1)
