"""The plan part of the account row, as a value object: the plan and price the account is on, the
changes that brought it there (kept by age, so every call in the billing window is billed on the plan
it was made on), a change waiting for a card, and a change asked of Stripe and not yet recorded done.

The row stores these as its own attributes (tollgate.adapters.dynamo_accounts); `Account.plan_state`
reads them as one PlanState and `Account.with_plan_state` writes one back, so the rules of plan history
live here, in one place, and the row only composes its parts (like its KeyRing and BillingCursor).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DAY_SECONDS = 24 * 3600
# Plan changes are kept by AGE, never by count: a call is billed on the plan it was made on, and a
# ledger object can be reported (or redelivered from the dead-letter queue, kept 14 days: SQS's
# maximum, infra/usage_metering.py) as long as Stripe accepts its meter events, 35 days
# (https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api: "timestamp ...
# within the past 35 days"). A change older than that can no longer decide any bill.
PLAN_HISTORY_SECONDS = (35 + 14) * DAY_SECONDS
# Kept changes are bounded so a row stays far below DynamoDB's 400 KB: a customer cannot make more
# changes than this within PLAN_HISTORY_SECONDS (tollgate.domain.plan_changes refuses, saying when).
PLAN_CHANGES_KEPT = 60


@dataclass(frozen=True)
class PlanTerm:
    """The plan an account was on at some moment, and the Stripe price its calls were billed at then
    (None: a free plan, or a term recorded before prices were, which the catalog prices)."""

    plan_id: str | None
    price_id: str | None


@dataclass(frozen=True)
class PlanChange:
    """An account moved from one plan to another at `at`: calls before it are billed on the old plan's
    price, calls from it on the new one's (the usage reporter asks `Account.plan_at`). The prices are
    recorded with the change, so removing a plan from the settings never stops its calls being billed."""

    at: int  # epoch seconds
    from_plan: str | None  # None: the default plan of a row from before plans
    to_plan: str
    cause: str  # "account page", "checkout", "reconciler", ...
    from_price: str | None = None
    to_price: str | None = None


@dataclass(frozen=True)
class PlanIntent:
    """A plan change recorded on the row BEFORE Stripe is asked for it, with the idempotency key every
    attempt at it uses: a retry (the customer's, the webhook's, the reconciler's) finishes the same
    change with the same Stripe request instead of making a second subscription."""

    to_plan: str
    idempotency_key: str  # derived from (account, plan, row version): tollgate.domain.plan_changes
    at: int  # epoch seconds: when the customer asked
    cause: str


@dataclass(frozen=True)
class PlanState:
    """Which plan, since when, and what change is under way (see the module docstring)."""

    plan_id: str | None = None  # None (rows from before plans): the default plan
    price_id: str | None = None  # the Stripe price of `plan_id` when it was chosen (None: free, or not recorded)
    changes: tuple[PlanChange, ...] = ()  # oldest first, kept PLAN_HISTORY_SECONDS
    pending_plan_id: str | None = None  # a change waiting for a card (and any open invoice paid) through Checkout
    intent: PlanIntent | None = None  # a change asked of Stripe and not yet recorded as done

    def term_at(self, at: float) -> PlanTerm:
        """The plan (and the price recorded with it) the account was on at `at` (epoch seconds): what
        a call made then is billed on."""
        if not self.changes:
            return PlanTerm(self.plan_id, self.price_id)
        first = self.changes[0]
        term = PlanTerm(first.from_plan, first.from_price)
        for change in self.changes:
            if change.at > at:
                break
            term = PlanTerm(change.to_plan, change.to_price)
        return term

    def changes_since(self, since: int) -> int:
        return sum(1 for change in self.changes if change.at >= since)

    def changed_to(self, plan_id: str, price_id: str | None, at: int, cause: str) -> PlanState:
        """On `plan_id` from `at`, no longer waiting for a card nor for Stripe to change plans. Changes
        older than PLAN_HISTORY_SECONDS go: every change records the plan before it, so the oldest
        kept one still says what any call inside the window was made on."""
        kept = [*self.changes, PlanChange(at, self.plan_id, plan_id, cause, self.price_id, price_id)]
        while kept[0].at < at - PLAN_HISTORY_SECONDS:
            kept.pop(0)
        return PlanState(plan_id, price_id, tuple(kept))

    def with_pending(self, plan_id: str | None) -> PlanState:
        return replace(self, pending_plan_id=plan_id)

    def with_intent(self, intent: PlanIntent | None) -> PlanState:
        return replace(self, intent=intent)
