"""What an account has used and spent so far this period, measured from the per-account usage counts,
and the spend cap's rule that stops its calls once the charges reach the cap.

The usage reporter counts each ledger object (tollgate.domain.usage_counting), then decides the limits
(tollgate.domain.usage_limits, where `SpendCapRule` plugs in beside the quota's rule) and checks the
usage alerts (tollgate.domain.usage_alerts), both from these figures:

- the quota's: the metered calls in the plan's quota period (UTC day, week or month, as API Gateway's
  usage plans count, tollgate.domain.usage_limits.quota_period);
- the charges: the billable calls of the subscription's current billing period, each times the unit
  amount of the price it was billed at (the price a meter event bills it at: the counts keep the calls
  per price). The period is Stripe's: a subscription item's `current_period_start`/`_end`
  (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end),
  read once per subscription and period by each process (`BillingPeriods`).

The counts are kept per UTC hour, and a billing period starts at any second (the subscription's
anchor), so the hour holding the period's start is counted whole: the charges are never under the
invoice's (a cap is never passed because of the hour), and may include calls of the period before
made in that one hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal

from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.evidence import UnitPrice
from tollgate.domain.ports.billing import Billing
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.spend_control import (
    PeriodCharges,
    QuotaUsage,
    SpendFigures,
    ThresholdKind,
    Window,
    charges,
    effective_cap,
)
from tollgate.domain.usage import HOUR_SECONDS
from tollgate.domain.usage_limit import UsageLimit
from tollgate.domain.usage_limits import LimitRule, quota_period
from tollgate.plans import Plan


class BillingPeriods:
    """The current billing period of an account's subscription, as Stripe has it, kept by this process
    until it ends: one Stripe call per subscription and period, whatever the number of ledger objects."""

    def __init__(self, billing: Billing, clock: Callable[[], float] = time.time):
        self._billing = billing
        self._clock = clock
        self._known: dict[str, Window] = {}

    def current(self, account: Account) -> Window | None:
        """None when the account has no subscription (nothing is billed). Raises DownstreamError when
        Stripe cannot say it now."""
        subscription_id = account.subscription_id
        if subscription_id is None:
            return None
        now = self._clock()
        known = self._known.get(subscription_id)
        if known is None or not known.start <= now < known.end:
            state = self._billing.subscription(subscription_id)
            known = Window(state.period_start, state.period_end)
            self._known[subscription_id] = known
        return known if known.end > known.start else None


class SpendMeter:
    """An account's figures now (see the module docstring): only those asked for, each one Query of
    the counts."""

    def __init__(
        self,
        counts: UsageCounts,
        periods: BillingPeriods,
        unit_price: Callable[[str], UnitPrice],
        clock: Callable[[], float] = time.time,
    ):
        self._counts = counts
        self._periods = periods
        self._unit_price = unit_price  # UsageMeter.unit_price: read from Stripe once per price and process
        self._clock = clock

    def figures(self, account: Account, plan: Plan, kinds: Collection[ThresholdKind]) -> SpendFigures:
        return SpendFigures(
            self.quota_usage(account, plan) if ThresholdKind.QUOTA in kinds else None,
            self.period_charges(account, plan) if ThresholdKind.AMOUNT in kinds else None,
        )

    def quota_usage(self, account: Account, plan: Plan) -> QuotaUsage | None:
        if not account.account_id:
            return None  # a row from before account ids: its calls are not counted per account
        window = Window(*quota_period(plan.quota_period, int(self._clock())))
        return QuotaUsage(window, self._counts.period_usage(account.account_id, window.start, window.end).metered)

    def period_charges(self, account: Account, plan: Plan) -> PeriodCharges | None:
        """None on a free plan, without a subscription, or when a price billed is tiered (its charges
        are known only on the invoice)."""
        if plan.is_free or plan.price_id is None or not account.account_id:
            return None
        window = self._periods.current(account)
        if window is None:
            return None
        first_hour = window.start // HOUR_SECONDS * HOUR_SECONDS
        usage = self._counts.period_usage(account.account_id, first_hour, window.end)
        spent = self._spent(usage.billed, plan.price_id)
        return None if spent is None else PeriodCharges(window, usage.billable, spent[0], spent[1])

    def _spent(self, billed: Mapping[str, int], plan_price_id: str) -> tuple[Decimal, str] | None:
        """The charges of `billed` (price id -> calls) and their currency (the plan price's: one
        subscription's prices share a currency)."""
        currency = self._unit_price(plan_price_id).currency
        total = Decimal(0)
        for price_id, calls in billed.items():
            price = self._unit_price(price_id)
            amount = charges(calls, price.amount, price.currency)
            if amount is None:
                return None
            total += amount
        return total, currency


class SpendCapRule(LimitRule):
    """`spend_cap_reached`: the billing period's charges reached the account's cap (its own, or its
    plan's default or maximum: tollgate.domain.spend_control.effective_cap). It holds until the period
    ends, or until the cap is raised or removed (the account page decides the limit again at once)."""

    def __init__(self, meter: SpendMeter):
        self._meter = meter

    def limit(self, account: Account, plan: Plan, now: int) -> UsageLimit | None:
        cap = effective_cap(account.spend_settings, plan)
        if cap is None:
            return None
        charged = self._meter.period_charges(account, plan)
        if charged is None or charged.spent < cap:
            return None
        return UsageLimit(contract.USAGE_LIMIT_SPEND_CAP_REACHED, charged.window.end, account.plan_id or "")
