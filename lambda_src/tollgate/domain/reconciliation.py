"""The scheduled reconciler: even if every webhook is lost, keys follow Stripe within one interval.

Stripe gives up on an event after three days of failed deliveries, and a webhook endpoint can be
misconfigured or starved; the key would then never follow the subscription. On a schedule
(EventBridge Scheduler, `reconcile_interval_minutes`), this service pages through Stripe's
subscriptions, newest first, compares each with the account row that records it, and repairs
disagreements THROUGH LifecycleService, exactly as a webhook event would (see
LifecycleService.reconcile): Stripe's current status is read again, the row and history are written
with the exactly-once, order-safe conditional write, and the key is made to match.

- Whose subscriptions: Stripe lists every subscription of the account; those no row of this
  deployment's accounts table records are skipped (another product's, another deployment's, an
  account's earlier one), except a LIVE one of a customer a row knows, older than a sign-up's lease:
  one made by a plan change whose row write was lost is ADOPTED (the row's recorded intent is
  completed with it), any other is an orphan that would bill the customer's usage a second time
  (meter events name the customer), so it is canceled without a final invoice, counted
  (contract.METRIC_ORPHAN_SUBSCRIPTIONS_CANCELED, which raises an alarm) and logged.
- Rows to follow up whatever the listings say (tollgate.domain.ports.Accounts.list_to_follow_up: a debt, a
  plan change asked of Stripe and not recorded) are looked at first, every run; then every open
  invoice Stripe has tried to collect, so a customer whose `invoice.payment_failed` was lost is
  suspended all the same, whatever subscription (current or ended) the invoice is for.
- Idempotent: a subscription that agrees with its row costs one table read and nothing else; a
  repair's event id is per run and subscription, so a retried run (same run id) repairs once.
- Within Stripe's rate limits (100 operations/s live, 25/s in test mode, shared with sign-ups,
  checkouts and webhooks): calls to Stripe are paced to STRIPE_OPERATIONS_PER_SECOND, a list call
  reads 100 subscriptions, and only a repair costs more (REPAIR_CALLS).
- Bounded in time: no new work starts after `deadline`; the last subscription examined is kept as
  the cursor, and the next run resumes after it. A run that reaches the end of the listing clears
  the cursor, so the next one starts from the newest subscription again.
- A failing service ends the run early with the cursor before the subscription it could not
  repair (the next run tries it again); an account refused for good (a 4xx, say) is counted as
  failed, logged by the handler, and passed, so it can never stall every run after it.

What the run did is returned and saved as the latest ReconcilerRun (port ReconcilerRuns) for operators
(`make status` shows it, with the first repairs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from tollgate.domain.account import RESERVATION_LEASE_SECONDS, AccountStatus
from tollgate.domain.billing_state import SubscriptionState
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError
from tollgate.domain.lifecycle import STATUSES_THAT_END, LifecycleService, Outcome
from tollgate.domain.models import ReconcilerRun
from tollgate.domain.pacing import Pacer
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import Billing
from tollgate.domain.ports.reconciler_runs import ReconcilerRuns

# A fifth of test mode's limit, a twentieth of live mode's: the rest stays for customers. At this
# pace a list call every 0.2 s reads 500 subscriptions a second.
STRIPE_OPERATIONS_PER_SECOND = 5
PAGE_SIZE = 100  # Stripe's largest list page
# A repair reads the subscription and the customer's open invoices again (and, rarely, pays or aligns).
REPAIR_CALLS = 2


@dataclass(frozen=True)
class Repair:
    """One account the run acted on (the handler logs each): what its row said and what it says now."""

    subscription_id: str
    stripe_status: str
    outcome: Outcome | None  # None: it could not be repaired (`problem` says why)
    problem: str | None = None


@dataclass
class _Tally:
    examined: int = 0
    repaired: int = 0
    failed: int = 0
    orphans_canceled: int = 0
    repairs: list[Repair] = field(default_factory=list)


class Reconciler:
    """Brings account rows and keys in line with Stripe's subscriptions, a bounded slice per run."""

    def __init__(
        self,
        billing: Billing,
        accounts: Accounts,
        runs: ReconcilerRuns,
        lifecycle: LifecycleService,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        operations_per_second: float = STRIPE_OPERATIONS_PER_SECOND,
        page_size: int = PAGE_SIZE,
    ):
        self._billing = billing
        self._accounts = accounts
        self._runs = runs
        self._lifecycle = lifecycle
        self._clock = clock
        self._pacer = Pacer(operations_per_second, clock, sleep)
        self._page_size = page_size

    def run(self, run_id: str, deadline: float) -> tuple[ReconcilerRun, list[Repair]]:
        """One run: from the previous run's cursor until the listing ends or `deadline` (epoch
        seconds) passes. `run_id` is the same when the same run is retried. Returns the saved
        record and every account acted on."""
        started_at = int(self._clock())
        previous = self._runs.last()
        cursor = previous.cursor if previous else None
        tally, stopped_by = _Tally(), None
        try:
            stopped_by = self._follow_up(run_id, deadline, tally)
            while stopped_by is None:
                if self._clock() >= deadline:
                    stopped_by = ReconcilerRun.STOPPED_BY_TIME_BUDGET
                    break
                self._pacer.wait()
                listed_at = int(self._clock())
                page = self._billing.list_subscriptions(cursor, self._page_size)
                for subscription in page.subscriptions:
                    if self._clock() >= deadline:
                        stopped_by = ReconcilerRun.STOPPED_BY_TIME_BUDGET
                        break
                    self._examine(subscription, run_id, listed_at, tally)
                    cursor = subscription.id
                if stopped_by is None and not page.has_more:
                    cursor = None
                    break
        except DownstreamError as problem:
            stopped_by = str(problem)
        finished_at = int(self._clock())
        repairs = tuple(
            f"{repair.subscription_id} -> {repair.stripe_status}"
            for repair in tally.repairs
            if repair.outcome is Outcome.APPLIED
        )[: ReconcilerRun.REPAIRS_KEPT]
        repairs_at = finished_at if repairs else None
        if not repairs and previous is not None:
            repairs, repairs_at = previous.repairs, previous.repairs_at
        record = ReconcilerRun(
            started_at=started_at,
            finished_at=finished_at,
            examined=tally.examined,
            repaired=tally.repaired,
            failed=tally.failed,
            cursor=cursor,
            stopped_by=stopped_by,
            repairs=repairs,
            repairs_at=repairs_at,
            orphans_canceled=tally.orphans_canceled,
        )
        self._runs.save(record)
        return record, tally.repairs

    def _follow_up(self, run_id: str, deadline: float, tally: _Tally) -> str | None:
        """Look again at every row on the follow-up list, then at the customer of every open invoice
        Stripe tried to collect whose row does not say it owes. Returns why it stopped early (None: it
        did not). A retryable failure propagates."""
        owners = {account.customer_id: account for account in self._accounts.list_to_follow_up() if account.customer_id}
        cursor = None
        while True:
            self._pacer.wait()
            page = self._billing.list_open_invoices(cursor, self._page_size)
            for invoice in page.invoices:
                if invoice.customer_id not in owners:
                    account = self._accounts.find_by_customer_id(invoice.customer_id)
                    if account is not None and account.status not in _NOT_ACCOUNTS:
                        owners[invoice.customer_id] = account
                cursor = invoice.id
            if not page.has_more or self._clock() >= deadline:
                break
        for account in owners.values():
            if self._clock() >= deadline:
                return ReconcilerRun.STOPPED_BY_TIME_BUDGET
            self._repair(
                account.customer_id or "", "follow-up", partial(self._lifecycle.follow_up, account, run_id), tally
            )
        return None

    def _examine(self, subscription: SubscriptionState, run_id: str, listed_at: int, tally: _Tally) -> None:
        """Compare one subscription with its row; repair through the lifecycle when they disagree.
        A retryable failure propagates (the run stops before this subscription)."""
        account = self._accounts.find_by_subscription_id(subscription.id)
        tally.examined += 1
        if account is None:
            self._examine_unrecorded(subscription, run_id, tally)
            return
        if not self._lifecycle.needs_reconciling(account, subscription):
            return
        self._repair(
            subscription.id,
            subscription.status,
            lambda: self._lifecycle.reconcile(subscription, run_id, listed_at),
            tally,
        )

    def _examine_unrecorded(self, subscription: SubscriptionState, run_id: str, tally: _Tally) -> None:
        """A subscription no row records: adopted or canceled when it is live and its customer has an
        account (see the module docstring), else none of ours."""
        if subscription.status in STATUSES_THAT_END or subscription.created > self._clock() - RESERVATION_LEASE_SECONDS:
            return
        account = self._accounts.find_by_customer_id(subscription.customer_id)
        if account is None or account.status in _NOT_ACCOUNTS:
            return
        if account.plan_intent is not None and account.subscription_id is None:
            self._repair(subscription.id, "adopt", lambda: self._lifecycle.follow_up(account, run_id), tally)
            return
        self._pacer.wait()
        self._billing.cancel_subscription(subscription.id)
        tally.orphans_canceled += 1
        tally.repairs.append(
            Repair(
                subscription.id,
                subscription.status,
                None,
                f"orphan of {subscription.customer_id} canceled: no account records it",
            )
        )

    def _repair(self, subject: str, stripe_status: str, repair: Callable[[], Outcome], tally: _Tally) -> None:
        self._pacer.wait(REPAIR_CALLS)
        try:
            outcome = repair()
        except DownstreamError as problem:
            if problem.retryable:
                raise
            tally.failed += 1
            tally.repairs.append(Repair(subject, stripe_status, None, str(problem)))
            return
        except ConcurrentUpdate as problem:  # being registered or changed right now: the next run looks again
            tally.repairs.append(Repair(subject, stripe_status, None, str(problem)))
            return
        if outcome is Outcome.APPLIED:
            tally.repaired += 1
        tally.repairs.append(Repair(subject, stripe_status, outcome))


# Rows that are not accounts (yet, or any more) for the reconciler: being registered, or left failed.
_NOT_ACCOUNTS = frozenset({AccountStatus.PENDING, AccountStatus.FAILED})
