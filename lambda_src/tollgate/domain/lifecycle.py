"""The billing lifecycle: API keys follow the Stripe subscription.

Stripe tells us, through signed webhook events, when a customer adds a payment method, pays, falls
behind or cancels. This service turns those events into the account's status and makes the API
key match it: an `active` account has an enabled key in the usage plan, a `suspended` one has a
disabled key (API Gateway answers 403), an `awaiting_payment_method` one has a key in no plan yet.

Order and exactly-once, decided here:
- An event is a trigger, not the truth. For every subscription-related event the service re-reads
  the subscription's CURRENT status from Stripe, so two events stamped in the same second, or a
  late delivery, cannot make the key follow an out-of-date status.
- The row remembers the newest applied event (id and `created`). An event older than it, or equal
  to it, is not applied again (`stale` / `duplicate`), which also spares the Stripe call.
- A completed Checkout is an action, not a status report, so it is never stale: a card collected
  before a newer subscription event was delivered must still become the default (and activate a
  waiting key). Its status is read from Stripe like any other, and the adapter never lets an
  older card replace a newer default, so a late delivery cannot roll anything back.
- Applying an event writes the row and records `stripe-event#<id>` in one conditional transaction:
  an id is applied once even when Stripe delivers it twice at the same moment, and a write that
  raced with another one is retried from a fresh read.
- The key is changed AFTER the row is written, and the row records that the key matches its
  status (`key_synced_for`, writes conditional on the status). If the row moved meanwhile, our
  key call may have undone a newer handler's, so the key is set again from a fresh read: whichever
  handler acts last acts on the latest row.
- A key whose row says it already matches is left alone: a replayed, stale or status-keeping event
  costs no API Gateway management call (those share an account-wide 10/s limit with sign-ups).
  The marker is cleared before the key is touched, so a crash mid-way leaves it unset and the next
  event (or the reconciler) repairs the key. A sign-up leaves it unset too (its last stage
  attaches the key concurrently with the row write), so the first event asserts the key once.

`invoice.paid` enables the key only if the subscription is `active`/`trialing` at that moment: an
invoice of a subscription that was cancelled meanwhile must not bring the key back.

A customer cut off for an unpaid invoice who adds a card through Checkout is not restored by the
card alone: Stripe does not retry an invoice when no payment method was available, nor after its
retries are exhausted. So a completed Checkout on a `past_due`/`unpaid` subscription pays the open
invoices with the new card, then re-reads the status; a decline keeps the account suspended with
the decline as its reason. `invoice.payment_failed` records why an account is cut off.

Lost events are repaired by the scheduled reconciler (tollgate.domain.reconciliation) through this
same service: for an account whose row or key disagrees with the subscription as Stripe lists it,
it applies a `reconciler` event (not a Stripe type; its id is per run and subscription, its
`created` the moment the list was read), so exactly-once, order safety and the history hold alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

from tollgate import contract
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.models import Account, AccountStatus
from tollgate.domain.billing_state import BillingEvent, SubscriptionState
from tollgate.domain.plan_changes import CHECKOUT_CAUSE, PlanChanges, move_keys
from tollgate.plans import PlanCatalog
from tollgate.ports import Accounts, ApiKeys, Billing, Metrics, PaymentMethods

SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
CHECKOUT_COMPLETED = "checkout.session.completed"
RECONCILE = "reconciler"  # the scheduled reconciler's repair; also what the history names as the cause

# Stripe subscription statuses. `incomplete` (first invoice still being attempted) changes nothing.
STATUSES_THAT_ENABLE = frozenset({"active", "trialing"})
STATUSES_THAT_SUSPEND = frozenset({"past_due", "unpaid", "paused"})  # money is owed: the key waits for it
STATUSES_THAT_END = frozenset({"canceled", "incomplete_expired"})  # final: a new sign-up starts over
# Invoices Stripe will not collect by itself once a card is added: none is retried when no payment
# method was available, nor after retries are exhausted (Stripe's Smart Retries docs).
STATUSES_WITH_UNCOLLECTED_INVOICES = frozenset({"past_due", "unpaid"})

EVENT_MEMORY_SECONDS = 30 * 24 * 3600  # Stripe retries a delivery for 3 days; keep ids well beyond
MAX_ATTEMPTS = 3


class Outcome(str, Enum):
    """What became of one event (logged and returned to Stripe for the dashboard)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id was applied before
    STALE = "stale"  # an event at least as new was applied already
    IGNORED = "ignored"  # not a type we act on, or not about a Tollgate account


class LifecycleService:
    """Applies verified Stripe events to accounts and their API keys."""

    def __init__(
        self,
        accounts: Accounts,
        keys: ApiKeys,
        billing: Billing,
        payments: PaymentMethods,
        clock: Callable[[], float] = time.time,
        *,
        metrics: Metrics,
        plans: PlanCatalog,
        plan_changes: PlanChanges | None = None,
    ):
        self._accounts = accounts
        self._keys = keys
        self._billing = billing
        self._payments = payments
        self._clock = clock
        self._metrics = metrics
        self._plans = plans
        # Plan changes made in Stripe are followed, and a Checkout completes a change waiting for a card.
        self._plan_changes = plan_changes

    def handle(self, event: BillingEvent) -> Outcome:
        """Apply one event. Raises DownstreamError (Stripe/AWS failed) or ConcurrentUpdate (the
        account is being registered right now): the webhook answers non-2xx and Stripe retries."""
        if not self._is_actionable(event):
            return Outcome.IGNORED
        for _ in range(MAX_ATTEMPTS):
            account = self._find_account(event)
            if account is None or account.status is AccountStatus.FAILED:
                return Outcome.IGNORED
            if account.status is AccountStatus.PENDING:
                if (account.lease_expires_at or 0) <= self._clock():
                    # Abandoned by a crashed sign-up: not an account (failed-accounts or the next
                    # sign-up cleans it). A 409 would make Stripe retry every event for 3 days.
                    return Outcome.IGNORED
                raise ConcurrentUpdate(f"account for {event.customer_id} is still being registered")
            if event.id == account.last_billing_event_id:
                self._enforce(account)
                return Outcome.DUPLICATE
            if event.created < account.last_billing_event_at and event.type != CHECKOUT_COMPLETED:
                self._enforce(account)
                return Outcome.STALE
            updated = self._apply(event, account)
            try:
                self._accounts.save_billing_event(
                    updated, account, event.id, remember_until=int(self._clock()) + EVENT_MEMORY_SECONDS
                )
            except EventAlreadyApplied:
                self._enforce(account)
                return Outcome.DUPLICATE
            except ConcurrentUpdate:
                continue
            self._enforce(updated)
            return Outcome.APPLIED
        raise ConcurrentUpdate(f"account changed {MAX_ATTEMPTS} times while applying {event.id}")

    @staticmethod
    def _is_actionable(event: BillingEvent) -> bool:
        if event.type == CHECKOUT_COMPLETED:
            return event.checkout_mode == "setup" and bool(event.setup_intent_id and event.customer_id)
        return event.type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED, INVOICE_PAID, INVOICE_PAYMENT_FAILED, RECONCILE)

    def _find_account(self, event: BillingEvent) -> Account | None:
        account = None
        if event.subscription_id:
            account = self._accounts.find_by_subscription_id(event.subscription_id)
        if account is None and event.customer_id:
            account = self._accounts.find_by_customer_id(event.customer_id)
        if account is not None and event.type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED, RECONCILE):
            if event.subscription_id != account.subscription_id:
                return None  # an older or foreign subscription of the customer: not the key's
        return account

    def _apply(self, event: BillingEvent, account: Account) -> Account:
        """The row after the event. May call Stripe (payment method, open invoices, current state,
        a plan change waiting for this Checkout)."""
        if event.type == CHECKOUT_COMPLETED:
            self._payments.set_default_payment_method(account.customer_id, event.setup_intent_id)
            account = account.with_checkout_session(event.checkout_session_id)
            if account.pending_plan_id and self._plan_changes and account.status is AccountStatus.ACTIVE:
                account = self._plan_changes.apply(account, self._plans.get(account.pending_plan_id),
                                                   CHECKOUT_CAUSE, event.id)
        account, status, reason = self._state_after(event, account)
        if status is AccountStatus.CANCELED and self._plans.get(account.plan_id).is_free:
            # The subscription of a change to a free plan ended with its period: the account goes on, free.
            account, status, reason = account.with_subscription(None), account.status, None
        changed = account.with_status(status, int(self._clock()), event.type, event.id).with_cut_off_reason(reason)
        return changed.with_billing_event(event.id, event.created)

    def _state_after(self, event: BillingEvent, account: Account) -> tuple[Account, AccountStatus, str | None]:
        """The row on the subscription's plan, its status after `event`, and why its key is cut off
        when it is."""
        if account.subscription_id is None or account.status is AccountStatus.CANCELED:
            return account, account.status, account.cut_off_reason
        subscription = self._billing.subscription(account.subscription_id)
        if self._plan_changes and subscription.status in STATUSES_THAT_ENABLE:
            self._plan_changes.tidy(account, subscription)
            account = self._plan_changes.follow(account, subscription, event.type)
        subscription_status = subscription.status
        if event.type == CHECKOUT_COMPLETED and subscription_status in STATUSES_WITH_UNCOLLECTED_INVOICES:
            # The customer added a card to settle what they owe: Stripe will not retry by itself.
            payment = self._billing.pay_open_invoices(account.subscription_id, f"tollgate-settle-{event.id}")
            if payment.declined:
                return account, AccountStatus.SUSPENDED, f"The card added at checkout was declined: {payment.declined}"
            subscription_status = self._billing.subscription_status(account.subscription_id)
        return (account, *_following(event.type, account, subscription_status, event.failure_reason))

    def needs_reconciling(self, account: Account | None, subscription: SubscriptionState) -> bool:
        """Whether the account of `subscription` disagrees with it as Stripe listed it: its row's
        status is not the one the subscription's status leads to, its plan is not the one the
        subscription's price says, items of an earlier plan wait to be dropped, or its key is not
        known to match the row (a lost event, or one applied half-way). Rows being registered or
        left failed are not accounts yet (or any more)."""
        if account is None or account.subscription_id != subscription.id:
            return False
        if account.status in (AccountStatus.PENDING, AccountStatus.FAILED):
            return False
        expected = account.status
        if account.status is not AccountStatus.CANCELED:
            expected, _ = _following(RECONCILE, account, subscription.status)
        if self._plan_changes and account.status is AccountStatus.ACTIVE and (
                self._plan_changes.follow(account, subscription, RECONCILE) is not account
                or self._plan_changes.needs_tidying(account, subscription)):
            return True
        return expected is not account.status or not account.key_in_sync

    def reconcile(self, subscription: SubscriptionState, run_id: str, listed_at: int) -> Outcome:
        """Repair the account of `subscription` (listed at `listed_at`, epoch seconds) as a webhook
        event would: Stripe's current status is read again, and a newer event applied meanwhile
        wins (`stale`). The event id is per run and subscription, so a retried run repairs once."""
        return self.handle(BillingEvent(id=f"{RECONCILE}-{run_id}-{subscription.id}", type=RECONCILE,
                                        created=listed_at, customer_id=subscription.customer_id,
                                        subscription_id=subscription.id))

    def _enforce(self, account: Account) -> None:
        """Make the key match the row, unless the row says it already does.

        The marker is cleared before the key is touched and set once it matches, both only while
        the row keeps its status: a crash in between leaves no false claim, and a row that moved
        meanwhile (a newer event) is read again and its state asserted, because our key call may
        have landed after the newer handler's."""
        touched = False  # we changed the key after the row moved: our call may have undone a newer one
        for _ in range(MAX_ATTEMPTS):
            if touched or not account.key_in_sync:
                try:
                    self._accounts.record_key_sync(account, synced=False)
                    self._set_key_state(account)
                    touched = True
                    self._accounts.record_key_sync(account, synced=True)
                    return
                except ConcurrentUpdate:
                    pass
            latest = self._accounts.get(account.email)
            if latest is None or (latest.key_in_sync and not touched):
                return
            account = latest

    def _set_key_state(self, account: Account) -> None:
        """Every key of the account follows its status: a rotated-out key within its grace works while
        the account is active like the current one (tollgate.domain.account_keys), and is cut off with it."""
        if account.status is AccountStatus.ACTIVE:
            plan = self._plans.get(account.plan_id)
            for key_id in account.callable_key_ids(self._clock()):
                move_keys(self._keys, self._plans, (key_id,), plan)
                self._keys.set_enabled(key_id, True)
                self._metrics.count(contract.METRIC_KEYS_ENABLED)
        elif account.status in (AccountStatus.SUSPENDED, AccountStatus.CANCELED):
            for key_id in account.existing_key_ids:
                self._keys.set_enabled(key_id, False)
                self._metrics.count(contract.METRIC_KEYS_DISABLED)


def _following(event_type: str, account: Account, subscription_status: str,
               failure_reason: str | None = None) -> tuple[AccountStatus, str | None]:
    """The status an account takes when its subscription is in `subscription_status`, after an
    event of `event_type`, and why its key is cut off when it is."""
    if subscription_status in STATUSES_THAT_END:
        return AccountStatus.CANCELED, f"The subscription is {subscription_status.replace('_', ' ')}."
    if subscription_status in STATUSES_THAT_SUSPEND:
        reason = failure_reason or account.cut_off_reason
        return AccountStatus.SUSPENDED, reason or f"The subscription is {subscription_status.replace('_', ' ')}."
    if event_type == CHECKOUT_COMPLETED:
        # The payment method was what the account waited for; an `incomplete` first invoice
        # will now be paid with it.
        return AccountStatus.ACTIVE, None
    if subscription_status in STATUSES_THAT_ENABLE and account.status is not AccountStatus.AWAITING_PAYMENT_METHOD:
        return AccountStatus.ACTIVE, None
    return account.status, account.cut_off_reason
