"""SpendChoices: the account page's usage alerts and spend cap, validated and written to the row.

POST /api/account/spend {quotaPercents, amounts, cap, noCap}:
- `quotaPercents`: percentages of the plan's quota to be emailed at (whole numbers 1-100, at most
  MAX_THRESHOLDS); null: the plan's default (80 and 100 on a free plan, none on a paid one);
- `amounts`: charges this period to be emailed at, in the plan's currency (paid plans);
- `cap`: the most the customer will spend a period (paid plans), at most the plan's maximum; null:
  the plan's default;
- `noCap`: true removes the cap (refused where the owner set a maximum: there is always one).

The writer owns only the row's `spend_settings` (tollgate.domain.account_store.change_account).
Every problem names the field and says what to send instead (ValidationFailed, 400). Once written, the
account's usage limit is decided again at once (tollgate.domain.usage_limits.UsageLimits.apply): a
raised or removed cap restores calls as soon as the authorizer's cache lets the stage ask again, and
a cap lowered under the charges stops them as soon.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.account_store import change_account
from tollgate.domain.errors import DownstreamError, ValidationFailed
from tollgate.domain.evidence import UnitPrice
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.spend_control import (
    MAX_THRESHOLDS,
    SpendSettings,
    Threshold,
    ThresholdKind,
    as_amount,
    currency_decimals,
    effective_cap,
    shown,
    thresholds,
)
from tollgate.domain.spend_watch import BillingPeriods
from tollgate.domain.usage_alerts import crossed_this_period
from tollgate.domain.usage_limits import UsageLimits, quota_period
from tollgate.domain.validation import decode_body, fields_summary
from tollgate.plans import Plan, PlanCatalog

FIELD_QUOTA_PERCENTS = "quotaPercents"
FIELD_AMOUNTS = "amounts"
FIELD_CAP = "cap"
FIELD_NO_CAP = "noCap"
# No alert or cap may exceed this in any currency: a typo (an extra zero or five) is refused
# rather than silently making the cap meaningless.
MAX_AMOUNT_DIGITS = 12


@dataclass(frozen=True)
class SpendView:
    """What the account page shows of alerts and the cap: the thresholds that apply, those crossed this
    period, the cap (the customer's choice and the plan's default and maximum)."""

    settings: SpendSettings
    thresholds: tuple[Threshold, ...]
    crossed: tuple[str, ...]  # threshold ids emailed this period
    cap: Decimal | None  # the cap that applies now
    cap_default: Decimal | None
    cap_max: Decimal | None
    price: UnitPrice | None  # None: a free plan, or the price could not be read now (`unavailable`)
    unavailable: bool = False
    cap_reached: bool = False  # calls are stopped now: the period's charges reached the cap


class SpendChoices:
    def __init__(
        self,
        accounts: Accounts,
        plans: PlanCatalog,
        unit_price: Callable[[str], UnitPrice],
        limits: UsageLimits | None,
        periods: BillingPeriods,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._plans = plans
        self._unit_price = unit_price  # UsageMeter.unit_price: the plan's currency and per-unit amount
        self._limits = limits  # None: no usage is counted (usage_reporter=moesif), so no limit to decide
        self._periods = periods
        self._clock = clock

    def currency(self, plan: Plan) -> UnitPrice | None:
        """The unit price (amount in the minor unit, currency) of a paid plan; None on a free one."""
        return None if plan.price_id is None else self._unit_price(plan.price_id)

    def view(self, holder: Account) -> SpendView:
        """The account page's alerts and cap; the price and the amounts crossed left out when Stripe
        cannot say them now (`unavailable`)."""
        plan = self._plans.get(holder.plan_id)
        period_starts = {ThresholdKind.QUOTA: quota_period(plan.quota_period, int(self._clock()))[0]}
        settings = holder.spend_settings or SpendSettings()
        try:
            price, unavailable = self.currency(plan), False
            billing = None if plan.is_free else self._periods.current(holder)
            if billing is not None:
                period_starts[ThresholdKind.AMOUNT] = billing.start
        except DownstreamError:
            price, unavailable = None, True
        limit = holder.active_usage_limit
        return SpendView(
            settings,
            thresholds(settings, plan),
            crossed_this_period(holder, period_starts),
            effective_cap(settings, plan),
            as_amount(plan.spend_cap_default),
            as_amount(plan.spend_cap_max),
            price,
            unavailable,
            limit is not None
            and limit.reason == contract.USAGE_LIMIT_SPEND_CAP_REACHED
            and limit.until > self._clock(),
        )

    def choose(self, holder: Account, body: str | bytes | None) -> Account:
        """Validate the body against the holder's plan, write it as the row's `spend_settings`, and decide
        the account's usage limit again (DownstreamError when that could not be done now: the choice
        is kept, and sending it again decides again)."""
        plan = self._plans.get(holder.plan_id)
        settings = parse_spend_settings(body, plan, self.currency(plan))
        stored = (
            change_account(self._accounts, holder.email, lambda row: replace(row, spend_settings=settings)) or holder
        )
        if self._limits is not None:
            stored = self._limits.apply(holder.email) or stored
        return stored


def parse_spend_settings(body: str | bytes | None, plan: Plan, price: UnitPrice | None) -> SpendSettings:
    """The settings in `body`, or ValidationFailed naming each bad field (see the module docstring)."""
    document = decode_body(body)
    problems: dict[str, str] = {}
    percents = _percents(document.get(FIELD_QUOTA_PERCENTS), problems)
    amounts: tuple[Decimal, ...] = ()
    cap: Decimal | None = None
    no_cap = document.get(FIELD_NO_CAP, False)
    if not isinstance(no_cap, bool):
        problems[FIELD_NO_CAP] = "must be true or false"
    money_fields = [name for name in (FIELD_AMOUNTS, FIELD_CAP) if document.get(name) not in (None, [])]
    if no_cap is True:
        money_fields.append(FIELD_NO_CAP)
    refusal = _money_refusal(plan, price)
    if refusal is not None:
        problems.update(dict.fromkeys(money_fields, refusal))
    elif price is not None:
        maximum = as_amount(plan.spend_cap_max)
        amounts = _amounts(document.get(FIELD_AMOUNTS), price.currency, problems)
        if document.get(FIELD_CAP) is not None:
            cap = _amount(document[FIELD_CAP], FIELD_CAP, price.currency, problems)
            if cap is not None and maximum is not None and cap > maximum:
                problems[FIELD_CAP] = (
                    f"must be at most {shown(maximum, price.currency)}, the most the {plan.name} "
                    "plan allows; choose a lower cap"
                )
        if no_cap is True and maximum is not None:
            problems[FIELD_NO_CAP] = (
                f"cannot be true on the {plan.name} plan: its spend is capped at "
                f"{shown(maximum, price.currency)} at most; set a cap up to that instead"
            )
    if problems:
        raise ValidationFailed(fields_summary(problems), problems)
    return SpendSettings(percents, amounts, cap, no_cap is True and cap is None)


def _money_refusal(plan: Plan, price: UnitPrice | None) -> str | None:
    if plan.is_free or price is None:
        return f"is for paid plans: the {plan.name} plan charges nothing; leave it empty"
    if price.amount == "":
        return (
            f"cannot be set on the {plan.name} plan: its price is tiered, so the charges are known only on the "
            "invoice; leave it empty"
        )
    return None


def _percents(raw: Any, problems: dict[str, str]) -> tuple[int, ...] | None:
    if raw is None:
        return None
    expected = f"must be a list of at most {MAX_THRESHOLDS} whole numbers from 1 to 100 (percent of the quota)"
    if (
        not isinstance(raw, list)
        or len(raw) > MAX_THRESHOLDS
        or not all(isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 100 for item in raw)
    ):
        problems[FIELD_QUOTA_PERCENTS] = expected
        return None
    return tuple(sorted(set(raw)))


def _amounts(raw: Any, currency: str, problems: dict[str, str]) -> tuple[Decimal, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_THRESHOLDS:
        problems[FIELD_AMOUNTS] = f"must be a list of at most {MAX_THRESHOLDS} amounts in {currency.upper()}"
        return ()
    found = [_amount(item, FIELD_AMOUNTS, currency, problems) for item in raw]
    return tuple(sorted({amount for amount in found if amount is not None}))


def _amount(raw: Any, field: str, currency: str, problems: dict[str, str]) -> Decimal | None:
    """An amount in the currency's major unit, with no more decimals than the currency has."""
    decimals = currency_decimals(currency)
    example = "25" if decimals == 0 else "25." + "5" * decimals
    expected = (
        (f"must be amounts in {currency.upper()} greater than 0 with at most {decimals} decimals (e.g. {example})")
        if field == FIELD_AMOUNTS
        else (
            f"must be an amount in {currency.upper()} greater than 0 with at most {decimals} decimals (e.g. {example}), "
            "or null for the plan's default"
        )
    )
    value = _decimal(raw)
    if value is None or _decimals_of(value) > decimals or value.adjusted() >= MAX_AMOUNT_DIGITS:
        problems[field] = expected
        return None
    return value


def _decimal(raw: Any) -> Decimal | None:
    """A JSON number or string as an amount greater than 0; None when it is not one."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None
    try:
        return as_amount(str(raw).strip())
    except ValueError:
        return None


def _decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
