"""The billing lifecycle: accounts and their API keys follow what the customer owes Stripe.

Stripe tells us, through signed webhook events, when a customer adds a payment method, pays, falls
behind or cancels. This service turns those events into the account's status and makes the API
keys match it (tollgate.domain.key_enforcement): an `active` account has enabled keys in its plan's
usage plan, a `suspended` or `canceled` one has disabled keys (API Gateway answers 403), an
`awaiting_payment_method` one has keys in no plan yet.

Order and exactly-once, decided here:
- An event is a trigger, not the truth. For every event the service re-reads the subscription's
  CURRENT status and the customer's open invoices from Stripe, so two events stamped in the same
  second, or a late delivery, cannot make the keys follow an out-of-date status.
- The row remembers the newest applied event (id and `created`). An event older than it, or equal
  to it, is not applied again (`stale` / `duplicate`), which also spares the Stripe calls.
- A completed Checkout is an action, not a status report, so it is never stale: a card collected
  before a newer subscription event was delivered must still become the default (and activate a
  waiting key). The adapter never lets an older card replace a newer default.
- Applying an event writes the row (only if it is still the version read: tollgate.domain.account)
  and records `stripe-event#<id>` in one transaction: an id is applied once even when Stripe
  delivers it twice at the same moment, and a write that raced with another writer's is decided
  again from a fresh read, so no writer's change is ever written over.
- The plan is the row's: Stripe is made to bill it (tollgate.domain.plan_changes `align`), and a
  plan change asked of Stripe but not recorded (a lost write) is completed from the row's intent.

Money owed suspends, whatever the plan. An open invoice of ANY subscription of the customer,
current or ended, that Stripe has tried to collect (`attempted`) suspends the account, with the
invoice named as the reason, until it is paid: a customer who moves to a free plan before a
period's invoice fails does not escape it (`owes_since` puts the row on the reconciler's follow-up
list, so a lost `invoice.paid` cannot keep them cut off either). `canceled` stays final.

A customer cut off for an unpaid invoice who adds a card through Checkout is not restored by the
card alone: Stripe does not retry an invoice when no payment method was available, nor after its
retries are exhausted. So a completed Checkout pays every open invoice of the customer with the new
card, then re-reads; a decline keeps the account suspended with the decline as its reason. A plan
change that waited for that Checkout is applied once nothing is owed.

Lost events are repaired by the scheduled reconciler (tollgate.domain.reconciliation) through this
same service: it applies a `reconciler` event (not a Stripe type; its id is per run and
subscription or customer, its `created` the moment it looked), so exactly-once, order safety and
the history hold alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from tollgate.domain.account import Account, AccountStatus, AppliedEvent
from tollgate.domain.billing_state import BillingEvent, SubscriptionState
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.plan_changes import CHECKOUT_CAUSE, PlanChanges
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import Billing, PaymentMethods
from tollgate.plans import PlanCatalog

SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
CHECKOUT_COMPLETED = "checkout.session.completed"
RECONCILE = "reconciler"  # the scheduled reconciler's repair; also what the history names as the cause

# Stripe subscription statuses. `incomplete` (first invoice still being attempted) changes nothing.
STATUSES_THAT_ENABLE = frozenset({"active", "trialing"})
STATUSES_THAT_SUSPEND = frozenset({"past_due", "unpaid", "paused"})  # money is owed: the keys wait for it
STATUSES_THAT_END = frozenset({"canceled", "incomplete_expired"})  # final: a new sign-up starts over

EVENT_MEMORY_SECONDS = 30 * 24 * 3600  # Stripe retries a delivery for 3 days; keep ids well beyond
MAX_ATTEMPTS = 4


class Outcome(StrEnum):
    """What became of one event (logged and returned to Stripe for the dashboard)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id was applied before
    STALE = "stale"  # an event at least as new was applied already
    IGNORED = "ignored"  # not a type we act on, or not about a Tollgate account


class LifecycleService:
    """Applies verified Stripe events (and the reconciler's repairs) to accounts and their keys."""

    def __init__(
        self,
        accounts: Accounts,
        billing: Billing,
        payments: PaymentMethods,
        *,
        plans: PlanCatalog,
        plan_changes: PlanChanges,
        enforcer: KeyEnforcer,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._billing = billing
        self._payments = payments
        self._plans = plans
        self._plan_changes = plan_changes
        self._enforcer = enforcer
        self._clock = clock

    def handle(self, event: BillingEvent) -> Outcome:
        """Apply one event. Raises DownstreamError (Stripe/AWS failed) or ConcurrentUpdate (the
        account is being registered, or kept changing): the webhook answers non-2xx and Stripe retries."""
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
                self._enforcer.enforce(account)
                return Outcome.DUPLICATE
            if event.created < account.last_billing_event_at and event.type != CHECKOUT_COMPLETED:
                self._enforcer.enforce(account)
                return Outcome.STALE
            remember = AppliedEvent(event.id, int(self._clock()) + EVENT_MEMORY_SECONDS)
            try:
                read, updated = self._apply(event, account)
                stored = self._accounts.update(updated, read, remember)
            except EventAlreadyApplied:
                self._enforcer.enforce(account)
                return Outcome.DUPLICATE
            except ConcurrentUpdate:
                continue
            self._enforcer.enforce(stored)
            return Outcome.APPLIED
        raise ConcurrentUpdate(f"account changed {MAX_ATTEMPTS} times while applying {event.id}")

    @staticmethod
    def _is_actionable(event: BillingEvent) -> bool:
        if event.type == CHECKOUT_COMPLETED:
            return event.checkout_mode == "setup" and bool(event.setup_intent_id and event.customer_id)
        return event.type in (
            SUBSCRIPTION_UPDATED,
            SUBSCRIPTION_DELETED,
            INVOICE_PAID,
            INVOICE_PAYMENT_FAILED,
            RECONCILE,
        )

    def _find_account(self, event: BillingEvent) -> Account | None:
        account = None
        if event.subscription_id:
            account = self._accounts.find_by_subscription_id(event.subscription_id)
        if account is None and event.customer_id:
            account = self._accounts.find_by_customer_id(event.customer_id)
        if (
            account is not None
            and event.type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED, RECONCILE)
            and event.subscription_id
            and event.subscription_id != account.subscription_id
        ):
            return None  # an older or foreign subscription of the customer: not the row's
        return account

    def _apply(self, event: BillingEvent, account: Account) -> tuple[Account, Account]:
        """(the row as stored now, the row after the event): the first is `account`, or what finishing
        a plan change on the way made of it. May call Stripe (payment method, open invoices, the
        current subscription, the plan the row says)."""
        read = account
        if read.plan_intent is not None and read.status is not AccountStatus.CANCELED:
            read = self._plan_changes.complete(read)
        account = read
        # (A Checkout completion always has both: _is_actionable requires them, and the row was found by the customer.)
        if event.type == CHECKOUT_COMPLETED and account.customer_id and event.setup_intent_id:
            self._payments.set_default_payment_method(account.customer_id, event.setup_intent_id)
            account = account.with_checkout_session(event.checkout_session_id)
        if account.status is AccountStatus.CANCELED:  # final: nothing to follow up (Stripe keeps any debt)
            return read, account.with_debt(None).with_plan_intent(None).with_billing_event(event.id, event.created)
        account, status, reason = self._state_after(event, account)
        if status is AccountStatus.ACTIVE and account.pending_plan_id:
            # The card (and whatever was owed) the change waited for is in: ask Stripe for it now.
            plan = self._plans.get(account.pending_plan_id)
            read = self._accounts.update(self._plan_changes.intend(account, plan, CHECKOUT_CAUSE), read)
            read = account = self._plan_changes.complete(read)
        changed = account.with_status(status, int(self._clock()), event.type, event.id).with_cut_off_reason(reason)
        return read, changed.with_billing_event(event.id, event.created)

    def _state_after(self, event: BillingEvent, account: Account) -> tuple[Account, AccountStatus, str | None]:
        """The row (its subscription, its debt), its status after `event`, and why its keys are cut
        off when they are."""
        subscription = self._billing.subscription(account.subscription_id) if account.subscription_id else None
        if (
            subscription is not None
            and subscription.status in STATUSES_THAT_ENABLE
            and account.status is AccountStatus.ACTIVE
        ):
            self._plan_changes.align(account, subscription)
        if (
            event.type == CHECKOUT_COMPLETED
            and account.customer_id
            and self._billing.open_invoices(account.customer_id)
        ):
            # The customer added a card to settle what they owe: Stripe will not retry by itself.
            payment = self._billing.pay_open_invoices(account.customer_id, f"tollgate-settle-{event.id}")
            if payment.declined:
                return (
                    account.with_debt(int(self._clock())),
                    AccountStatus.SUSPENDED,
                    f"The card added at checkout was declined: {payment.declined}",
                )
            if account.subscription_id:
                subscription = self._billing.subscription(account.subscription_id)
        status, reason = _following(event, account, subscription)
        if status is AccountStatus.CANCELED:
            if not self._plans.get(account.plan_id).is_free:
                return account, status, reason
            # The subscription of a change to a free plan ended with its period: the account goes on, free.
            account, status, reason = account.with_subscription(None), AccountStatus.ACTIVE, None
        owed = self._billing.open_invoices(account.customer_id) if account.customer_id else ()
        if owed:
            if status is not AccountStatus.SUSPENDED or not reason:  # a failed payment's own reason says more
                reason = f"{owed[0].describe()}: pay it (Manage billing on your account page) to use the API again."
            return account.with_debt(int(self._clock())), AccountStatus.SUSPENDED, reason
        return account.with_debt(None), status, reason

    def needs_reconciling(self, account: Account | None, subscription: SubscriptionState) -> bool:
        """Whether the account of `subscription` disagrees with it as Stripe listed it: its row's
        status is not the one the subscription's status leads to, Stripe does not bill the plan the
        row says, a plan change was asked and not recorded, or its keys are not known to match the
        row (a lost event, or one applied half-way). Rows being registered or left failed are not
        accounts yet (or any more)."""
        if account is None or account.subscription_id != subscription.id:
            return False
        if account.status in (AccountStatus.PENDING, AccountStatus.FAILED):
            return False
        if account.plan_intent is not None:
            return True
        if account.status is not AccountStatus.CANCELED and account.owes_since is None:
            expected, _ = _following(BillingEvent("", RECONCILE, 0), account, subscription)
            if expected is not account.status:
                return True
        if (
            account.status is AccountStatus.ACTIVE
            and subscription.status in STATUSES_THAT_ENABLE
            and self._plan_changes.misaligned(account, subscription)
        ):
            return True
        return not account.keys_in_sync

    def reconcile(self, subscription: SubscriptionState, run_id: str, listed_at: int) -> Outcome:
        """Repair the account of `subscription` (listed at `listed_at`, epoch seconds) as a webhook
        event would: Stripe's current state is read again, and a newer event applied meanwhile
        wins (`stale`). The event id is per run and subscription, so a retried run repairs once."""
        return self.handle(
            BillingEvent(
                id=f"{RECONCILE}-{run_id}-{subscription.id}",
                type=RECONCILE,
                created=listed_at,
                customer_id=subscription.customer_id,
                subscription_id=subscription.id,
            )
        )

    def follow_up(self, account: Account, run_id: str) -> Outcome:
        """Look at an account again whatever its subscription says: it owes an open invoice, or a plan
        change was asked of Stripe and not recorded (the reconciler's follow-up list)."""
        return self.handle(
            BillingEvent(
                id=f"{RECONCILE}-{run_id}-{account.customer_id}",
                type=RECONCILE,
                created=int(self._clock()),
                customer_id=account.customer_id,
            )
        )


def _following(
    event: BillingEvent, account: Account, subscription: SubscriptionState | None
) -> tuple[AccountStatus, str | None]:
    """The status an account takes after `event` given its subscription (None: a free account without
    one), before what it owes is looked at, and why its keys are cut off when they are."""
    if subscription is None:
        free_and_usable = account.status in (AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
        return (AccountStatus.ACTIVE, None) if free_and_usable else (account.status, account.cut_off_reason)
    if subscription.status in STATUSES_THAT_END:
        return AccountStatus.CANCELED, f"The subscription is {subscription.status.replace('_', ' ')}."
    if subscription.status in STATUSES_THAT_SUSPEND:
        reason = event.failure_reason or account.cut_off_reason
        return AccountStatus.SUSPENDED, reason or f"The subscription is {subscription.status.replace('_', ' ')}."
    if event.type == CHECKOUT_COMPLETED:
        # The payment method was what the account waited for; an `incomplete` first invoice
        # will now be paid with it.
        return AccountStatus.ACTIVE, None
    if subscription.status in STATUSES_THAT_ENABLE and account.status is not AccountStatus.AWAITING_PAYMENT_METHOD:
        return AccountStatus.ACTIVE, None
    return account.status, account.cut_off_reason
