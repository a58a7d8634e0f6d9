"""The small interfaces the domain services talk to.

Domain code (tollgate.domain) knows only these; adapters (tollgate.adapters) implement them
with one SDK each; tests implement them in memory with failure switches. Every method that
reaches a network service must honour a timeout and bounded retries inside the adapter, and
raise tollgate.domain.errors.DownstreamError (or a subclass) when the service fails, so the
service can roll back without knowing which SDK was involved.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import TYPE_CHECKING

from tollgate.domain.account import Account, AccountStatus, AppliedEvent
from tollgate.domain.models import Email, IssuedKey, ListedKey, ReconcilerRun, Registrant
from tollgate.domain.billing_state import (
    CheckoutSession, InvoicePayment, OpenInvoice, OpenInvoicePage, SubscriptionPage, SubscriptionState,
    UpcomingInvoice,
)

if TYPE_CHECKING:
    from tollgate.plans import Plan
    from tollgate.domain.customer_access import EmailLink, KeyRetirement, Session
    from tollgate.domain.usage import BatchSummary, LedgerObject, MeterReport, ReportRecord


class ApiKeys(ABC):
    """API Gateway API keys and the usage plans (one per Tollgate plan) they are throttled by; a key is
    in one usage plan at a time."""

    @abstractmethod
    def create_key(self, name: str, description: str) -> IssuedKey:
        """Create an enabled key that cannot yet call the API (it is in no usage plan)."""

    @abstractmethod
    def delete_key(self, key_id: str) -> None:
        """Delete the key; deleting a key that no longer exists is not an error."""

    @abstractmethod
    def attach_to_plan(self, key_id: str, usage_plan_id: str) -> None:
        """Add the key to the usage plan: from now on it can call metered routes, with its limits.
        Adding it again is not an error; KeyNotFound when the key no longer exists."""

    @abstractmethod
    def detach_from_plan(self, key_id: str, usage_plan_id: str) -> None:
        """Remove the key from the usage plan; a key not in the plan is not an error."""

    @abstractmethod
    def set_enabled(self, key_id: str, enabled: bool) -> None:
        """Enable or disable the key (billing lifecycle: non-payers are cut off). Disabling a key that
        no longer exists is not an error (it is ended already), so ending a key or cutting an account off
        can always be finished by whoever comes next; enabling one is (KeyNotFound)."""

    @abstractmethod
    def key_value(self, key_id: str) -> str:
        """The key's secret value (only to answer a replayed request or check a presented key)."""

    @abstractmethod
    def keys_named(self, prefix: str) -> list[ListedKey]:
        """This deployment's keys whose name starts with `prefix` (without values)."""

    @abstractmethod
    def count_in_region(self) -> int:
        """Every API key of the account in this region, any API's: what API Gateway's quota of
        contract.API_KEYS_PER_REGION counts. One call per 500 keys."""


class Billing(ABC):
    """Stripe customers and subscriptions.

    A create repeated with the same idempotency key and arguments (within 24 h) returns the
    object the first call created instead of a new one, even when the first call's answer was
    lost: that is how a rollback learns the id of a create that timed out."""

    @abstractmethod
    def create_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str) -> str:
        """Create the customer (metadata awsAPIKeyId) and return its id (cus_...)."""

    @abstractmethod
    def find_customers_for_key(self, api_key_id: str) -> list[str]:
        """The customers created for a sign-up's API key (their metadata names it). Stripe's search
        can lag up to a minute behind a create: an empty answer right after one proves nothing."""

    @abstractmethod
    def delete_customer(self, customer_id: str) -> None:
        """Delete the customer, which also cancels its subscriptions; an already deleted
        customer is not an error."""

    @abstractmethod
    def subscribe(self, customer_id: str, price_id: str, idempotency_key: str) -> str:
        """Subscribe the customer to a plan's metered price; return the id (sub_...)."""

    @abstractmethod
    def subscription(self, subscription_id: str) -> SubscriptionState:
        """The subscription as Stripe has it now: status, items (price and creation time), the current
        period's start, and whether it ends at the period's end."""

    @abstractmethod
    def switch_price(self, subscription_id: str, price_id: str, idempotency_key: str) -> None:
        """Bill the subscription at `price_id` from now on: add it as a new item (proration_behavior
        none) unless an item has it already, and keep every other item until the period ends, so what
        their meters recorded before now is billed on this period's invoice. Also unsets
        cancel_at_period_end. Raises ConfigurationError when the price's meter is the meter of another
        item's price (both items would bill the same usage)."""

    @abstractmethod
    def drop_prices_except(self, subscription_id: str, price_id: str) -> tuple[str, ...]:
        """Remove every item whose price is not `price_id` (proration_behavior none); return the prices
        removed. Called once the period in which the plan changed has been invoiced."""

    @abstractmethod
    def end_at_period_end(self, subscription_id: str) -> None:
        """cancel_at_period_end=true: the subscription ends (customer.subscription.deleted) when its
        period ends (a change to a free plan)."""

    @abstractmethod
    def cancel_subscription(self, subscription_id: str) -> None:
        """Cancel immediately, without a final invoice for its metered usage (invoice_now and prorate
        false): what its meters counted is billed by the subscription the account records. An already
        cancelled subscription is not an error."""

    @abstractmethod
    def live_subscriptions(self, customer_id: str) -> tuple[SubscriptionState, ...]:
        """The customer's subscriptions that are not canceled (or incomplete_expired), newest first."""

    @abstractmethod
    def subscription_status(self, subscription_id: str) -> str:
        """The subscription's status as Stripe has it now (active, past_due, canceled, ...)."""

    @abstractmethod
    def list_subscriptions(self, starting_after: str | None, limit: int) -> SubscriptionPage:
        """Every subscription of the Stripe account, whatever its status (canceled ones included),
        newest first: up to `limit` of them after the subscription `starting_after` (None: from
        the newest). One Stripe API call."""

    @abstractmethod
    def open_invoices(self, customer_id: str) -> tuple[OpenInvoice, ...]:
        """The customer's invoices that are open (unpaid, not void) AND that Stripe has tried to collect
        at least once (`attempted`), of any subscription, current or ended, oldest first."""

    @abstractmethod
    def list_open_invoices(self, starting_after: str | None, limit: int) -> OpenInvoicePage:
        """Every open invoice of the Stripe account that Stripe has tried to collect, newest first: up to
        `limit` after the invoice `starting_after` (None: from the newest). One Stripe API call."""

    @abstractmethod
    def pay_open_invoices(self, customer_id: str, idempotency_key: str) -> InvoicePayment:
        """Pay every open invoice of the customer, oldest first, with its default payment
        method. Stripe does not retry an invoice by itself when no payment method was available,
        nor once its retries are exhausted. Stops at the first decline (InvoicePayment.declined).
        An invoice paid meanwhile is not an error; `idempotency_key` makes a retry charge nothing twice."""


class PaymentMethods(ABC):
    """A customer's payment method: collected by Stripe Checkout in setup mode, then made the
    default for the subscription's invoices."""

    @abstractmethod
    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        """Make the payment method a completed setup intent collected the customer's default for
        invoices, unless the current default is a newer one (a late delivery of an earlier
        Checkout must not bring an old card back). Setting the same method again is not an error."""

    @abstractmethod
    def create_setup_checkout(self, customer_id: str, success_url: str, cancel_url: str, idempotency_key: str) -> str:
        """Open a Checkout session in setup mode for the customer; return its URL."""

    @abstractmethod
    def checkout_session(self, session_id: str) -> CheckoutSession | None:
        """A payment-method session `create_setup_checkout` opened; None for any other or unknown id."""


class Analytics(ABC):
    """Moesif companies and users: what Moesif billing meters attribute usage to."""

    @abstractmethod
    def upsert_company(self, company_id: str, metadata: dict[str, str]) -> None:
        """Create or update the company (company id = Stripe subscription id)."""

    @abstractmethod
    def upsert_user(self, user_id: str, company_id: str, metadata: dict[str, str]) -> None:
        """Create or update the user (user id = API key id). Never pass the key value."""


class Accounts(ABC):
    """The accounts table: one row per normalised email, the ledger of what was created. Every write
    is conditional on the row's `version` (tollgate.domain.account): a writer that read an older row
    gets ConcurrentUpdate and decides again (tollgate.domain.account_store.change_account)."""

    @abstractmethod
    def get(self, email: str) -> Account | None:
        """The account for a normalised email, if any (a strongly consistent read)."""

    @abstractmethod
    def create(self, account: Account) -> Account:
        """Write a new row, only if the email has none; return it as stored (version 1). Raises
        tollgate.domain.errors.ConcurrentUpdate when a row exists."""

    @abstractmethod
    def update(self, account: Account, read: Account, event: AppliedEvent | None = None) -> Account:
        """Write what `account` changes of `read` (only the attributes that differ: a writer changes
        only what it owns), only if the stored row still has `read.version`; return the row as stored
        (version + 1). A key that stops being the current one becomes findable by `find_by_api_key_id`.
        With `event`, its id is recorded in the same transaction: EventAlreadyApplied when it was
        recorded before. Raises ConcurrentUpdate when the row changed (or went) since `read`."""

    @abstractmethod
    def delete(self, read: Account) -> None:
        """Remove the row, only if it still has `read.version` (a sign-up releasing its reservation).
        Raises ConcurrentUpdate otherwise."""

    @abstractmethod
    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        """The account owning an API key id: its current key, or any key its records name."""

    @abstractmethod
    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        """The account owning a Stripe subscription id."""

    @abstractmethod
    def find_by_customer_id(self, customer_id: str) -> Account | None:
        """The account owning a Stripe customer id."""

    @abstractmethod
    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        """Every account in any of `statuses` (one pass over the table, for operators and the
        housekeeping: `failed` rows, canceled accounts' keys)."""

    @abstractmethod
    def list_to_follow_up(self) -> list[Account]:
        """Every account with a `follow_up_since` (it owes an open invoice, or a plan change was asked of
        Stripe and not recorded): the reconciler looks at each again, so a lost `invoice.paid` or a
        lost row write is repaired within one interval. Reads only those rows."""

    @abstractmethod
    def count_by_status(self) -> dict[AccountStatus, int]:
        """How many accounts are in each status (statuses with none are left out)."""

    @abstractmethod
    def last_reconciler_run(self) -> ReconcilerRun | None:
        """The record the latest reconciler run left, if any."""

    @abstractmethod
    def save_reconciler_run(self, run: ReconcilerRun) -> None:
        """Keep `run` as the latest reconciler run (replacing the one before)."""


class Mailer(ABC):
    """Sends Tollgate's emails (sign-up confirmation, sign-in links)."""

    @abstractmethod
    def send(self, email: Email) -> None:
        """Send one plain-text email from the configured sender."""


class CustomerAccess(ABC):
    """The customer access table: one-time email links, sessions, per-address email counts and the
    reminders of rotated-out keys to retire. Records are keyed by a token's hash, never the token."""

    @abstractmethod
    def put_link(self, link: EmailLink) -> None:
        """Keep a link until it is used or expires."""

    @abstractmethod
    def get_link(self, token_hash: str) -> EmailLink | None:
        """The link with this hash, if it was neither used nor removed by its TTL yet."""

    @abstractmethod
    def use_link(self, token_hash: str) -> bool:
        """Remove the link; True only for the one call that removed it (single use)."""

    @abstractmethod
    def count_email(self, address_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Count one more email to the address in the window, unless `limit` were counted already
        (then False and nothing changes)."""

    @abstractmethod
    def put_session(self, session: Session) -> None:
        """Keep a session until it is closed or expires."""

    @abstractmethod
    def get_session(self, token_hash: str) -> Session | None:
        """The session with this hash, if it was not closed (its expiry is the caller's to check)."""

    @abstractmethod
    def delete_session(self, token_hash: str) -> None:
        """Close a session; closing a closed one is not an error."""

    @abstractmethod
    def sessions_of(self, email: str) -> list[str]:
        """The hashes of every open session of the account (to sign out everywhere)."""

    @abstractmethod
    def remind_retirement(self, reminder: KeyRetirement) -> None:
        """Remember to retire a rotated-out key once its grace is over."""

    @abstractmethod
    def due_retirements(self, now: int) -> list[KeyRetirement]:
        """Reminders whose time has come, earliest first."""

    @abstractmethod
    def forget_retirement(self, key_id: str) -> None:
        """Drop a reminder (the key is retired, or the account no longer needs it)."""


class AccountBilling(ABC):
    """What the account page shows and opens of Stripe: the upcoming invoice and the customer portal."""

    @abstractmethod
    def upcoming_invoice(self, subscription_id: str) -> UpcomingInvoice:
        """Stripe's preview of the subscription's next invoice (its usage so far this period)."""

    @abstractmethod
    def portal_url(self, customer_id: str, return_url: str) -> str:
        """A Stripe customer portal session for the customer (invoices, payment methods, cancel), on
        Tollgate's portal configuration only: BillingPortalNotSetUp without it."""


class PlanUsage(ABC):
    """API Gateway's usage plans' counts (GetUsage): per key and UTC day, and the quota left (which
    UpdateUsage sets)."""

    @abstractmethod
    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        """Calls each key made from `first_day` to `last_day`, both included (UTC days), on every plan."""

    @abstractmethod
    def quota_left(self, key_id: str, plan: Plan, day: date) -> tuple[int, int]:
        """(calls left, the quota) of the key's current quota period on `plan`'s usage plan, as of `day`."""

    @abstractmethod
    def set_quota_left(self, key_id: str, remaining: int, plan: Plan) -> None:
        """Leave the key `remaining` calls for the rest of its current quota period (the key must be
        in `plan`'s usage plan); the next period starts with the plan's whole quota again."""


class UsageLedger(ABC):
    """The usage ledger: every access-log record, as Firehose backs them up to S3."""

    @abstractmethod
    def read(self, source: LedgerObject) -> bytes:
        """The object's bytes, as stored (GZIP)."""

    @abstractmethod
    def objects_between(self, start: int, end: int) -> list[LedgerObject]:
        """Every ledger object that may hold calls made in [start, end) (epoch seconds)."""


class UsageMeter(ABC):
    """The Stripe billing meters of the plans' prices."""

    @abstractmethod
    def report(self, report: MeterReport) -> bool:
        """Send the meter event; False when Stripe already had its identifier (a repeat, counted once)."""

    @abstractmethod
    def reported_units(self, customer_id: str, price_id: str, start: int, end: int) -> float:
        """The aggregated usage of the customer in [start, end) (epoch seconds, whole minutes) on the
        meter of `price_id`."""


class UsageReports(ABC):
    """The usage reports table: which meter events were sent, and what each ledger object came to."""

    @abstractmethod
    def get(self, identifier: str) -> ReportRecord | None:
        """The report with this meter event identifier, if one was ever attempted."""

    @abstractmethod
    def mark_pending(self, report: MeterReport, now: int) -> ReportRecord:
        """Record that the report is about to be sent (keeping the first attempt's time when it was
        attempted before); a report already `reported` is returned as it is."""

    @abstractmethod
    def mark_reported(self, report: MeterReport, now: int) -> None:
        """Record that Stripe has the report."""

    @abstractmethod
    def pending_since_before(self, cutoff: int) -> list[ReportRecord]:
        """Reports still pending whose first attempt was before `cutoff` (epoch seconds)."""

    @abstractmethod
    def save_summary(self, summary: BatchSummary) -> None:
        """Keep what reporting one ledger object came to."""

    @abstractmethod
    def billable_calls(self, customer_id: str, start: int, end: int) -> int:
        """The billable calls reported (or being reported) for the customer whose latest call in their
        ledger object falls in [start, end) (epoch seconds): the account page's usage this period."""

    @abstractmethod
    def summary(self, source: LedgerObject) -> BatchSummary | None:
        """What reporting the object came to, once it was fully reported."""

    @abstractmethod
    def latest_summary(self) -> BatchSummary | None:
        """The summary saved last (the newest report, for `make status`), if any."""

    @abstractmethod
    def latest_billed_summary(self) -> BatchSummary | None:
        """The newest summary that billed a call (`make status`: the newest object may hold only
        calls nothing bills, such as a 403 or a free plan's), if any."""


class Metrics(ABC):
    """Business metrics (names in tollgate.contract.METRIC_*): what the stack's alarms and dashboard
    watch. Recording one never calls a service: the adapter prints them, once per invocation, in
    CloudWatch's embedded metric format (tollgate.metrics)."""

    @abstractmethod
    def count(self, name: str, value: float = 1) -> None:
        """Add `value` to the counter `name` for this invocation (a zero total is not published)."""

    @abstractmethod
    def level(self, name: str, value: float) -> None:
        """Publish the current level of `name` (a gauge: published even when 0)."""
