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

from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from functools import cached_property

from testkit.clock import Clock
from testkit.fake_access import FakeAccountBilling, FakeCustomerAccess, FakeMailer, FakePlanUsage
from testkit.fake_billing import FakeBilling, FakePaymentMethods
from testkit.fake_metering import FakeUsageEvidence, FakeUsageLedger, FakeUsageMeter, FakeUsageReports
from testkit.fake_ports import (
    TEST_PLANS,
    FakeAccounts,
    FakeAnalytics,
    FakeApiKeys,
    FakeKeyItems,
    FakeMetrics,
    FakePorts,
)
from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.account_keys import AccountKeys
from tollgate.domain.account_overview import AccountOverviews
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.email_links import EmailLinks
from tollgate.domain.evidence import InvoiceEvidence
from tollgate.domain.housekeeping import Housekeeping
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.key_items import KeyIssuer
from tollgate.domain.lifecycle import LifecycleService
from tollgate.domain.metering import UsageReporter
from tollgate.domain.models import Registrant
from tollgate.domain.plan_changes import PlanChanges
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.reconciliation import Reconciler
from tollgate.domain.registration import RegistrationService
from tollgate.domain.sessions import CustomerSessions
from tollgate.domain.usage import BillableStatuses
from tollgate.domain.verified_sign_up import VerifiedSignUp
from tollgate.plans import PlanCatalog

SITE_URL = "https://shop.example/"
LINK_TTL_SECONDS = 24 * 3600
EMAILS_PER_HOUR = 3
GRACE_SECONDS = 24 * 3600
CANCELED_KEY_RETENTION_DAYS = 30
ISSUER = KeyIssuer("tgk", lambda: "test")  # the fakes' Stripe is a test deployment's


def accounts_environment(function_environment: dict[str, str], verify_email: bool = True) -> dict[str, str]:
    """`function_environment` plus what the stack sets on the functions that serve customer accounts."""
    return {**function_environment,
            contract.ENV_CUSTOMER_ACCESS_TABLE: "customer-access",
            contract.ENV_VERIFY_EMAIL: "true" if verify_email else "false",
            contract.ENV_EMAIL_SENDER: "no-reply@shop.example",
            contract.ENV_EMAIL_LINK_TTL_SECONDS: str(LINK_TTL_SECONDS),
            contract.ENV_EMAILS_PER_ADDRESS_PER_HOUR: str(EMAILS_PER_HOUR),
            contract.ENV_KEY_ROTATION_GRACE_SECONDS: str(GRACE_SECONDS)}


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
    evidence: FakeUsageEvidence = field(default_factory=FakeUsageEvidence)
    issued: dict[str, str] = field(default_factory=dict)  # email -> the key its sign-up answered with

    @classmethod
    def create(cls, plans: PlanCatalog = TEST_PLANS, start: float | None = None,
               accounts: Accounts | None = None) -> World:
        """`accounts`: another store than a FakeAccounts (DynamoAccounts on moto, testkit.interleaving)."""
        ports, clock = FakePorts.create(), Clock(start)
        if accounts is not None:
            ports = replace(ports, accounts=accounts)
        ports.billing.clock = clock
        return cls(ports, FakePaymentMethods(ports.billing), FakeCustomerAccess(), FakeMailer(), FakeAccountBilling(),
                   FakePlanUsage(), FakeUsageLedger(),
                   FakeUsageMeter(clock, plans.default.price_id), FakeUsageReports(), clock, plans)

    # --- the fakes most tests reach for ---------------------------------------------------------

    @property
    def accounts(self) -> FakeAccounts:
        return self.ports.accounts  # type: ignore[return-value] - or the store `create` was given

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
        return RegistrationService(self.api_keys, self.billing, self.analytics, self.accounts, executor=_INLINE,
                                   clock=self.clock, metrics=self.metrics, plans=self.plans, key_items=self.key_items,
                                   issuer=ISSUER)

    @cached_property
    def enforcer(self) -> KeyEnforcer:
        return KeyEnforcer(self.accounts, self.api_keys, self.key_items, self.plans, self.metrics, self.clock)

    @cached_property
    def checkout(self) -> PaymentMethodCheckout:
        return PaymentMethodCheckout(self.accounts, self.key_items, self.payments, SITE_URL, self.clock)

    @cached_property
    def plan_changes(self) -> PlanChanges:
        return PlanChanges(self.accounts, self.billing, self.checkout, self.plans, self.enforcer, self.clock)

    @cached_property
    def lifecycle(self) -> LifecycleService:
        return LifecycleService(self.accounts, self.billing, self.payments, plans=self.plans,
                                plan_changes=self.plan_changes, enforcer=self.enforcer, clock=self.clock)

    @cached_property
    def reconciler(self) -> Reconciler:
        return Reconciler(self.billing, self.accounts, self.ports.reconciler_runs, self.lifecycle, clock=self.clock,
                          sleep=self.clock.sleep)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        return Housekeeping(self.accounts, self.api_keys, self.key_items, CANCELED_KEY_RETENTION_DAYS, clock=self.clock,
                            sleep=self.clock.sleep)

    @cached_property
    def account_keys(self) -> AccountKeys:
        return AccountKeys(self.accounts, self.key_items, self.access, self.enforcer, self.api_keys, issuer=ISSUER,
                           grace_seconds=GRACE_SECONDS, clock=self.clock)

    @cached_property
    def reporter(self) -> UsageReporter:
        return UsageReporter(self.ledger, self.accounts, self.meter, self.reports, self.evidence,
                             BillableStatuses.parse("2xx"), self.plans, self.clock)

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
        return EmailLinks(self.access, self.mailer, ttl_seconds=LINK_TTL_SECONDS, emails_per_hour=EMAILS_PER_HOUR,
                          clock=self.clock)

    @cached_property
    def sign_up(self) -> VerifiedSignUp:
        return VerifiedSignUp(self.accounts, self.links, self.emails, self.registration)

    @cached_property
    def sessions(self) -> CustomerSessions:
        return CustomerSessions(self.accounts, self.access, self.links, self.emails, clock=self.clock)

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


class _Inline(Executor):
    """Runs each call at once (deterministic domain tests)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as failure:  # noqa: BLE001 - handed to the future like a pool does
            future.set_exception(failure)
        return future


_INLINE = _Inline()
