"""Usage alerts and the spend cap: what a customer chose, which alerts were sent, and the rules that
decide, from the account, its plan and its usage this period, which thresholds are crossed and
whether the cap is reached.

Two attributes of the account row, each with one writer (tollgate.domain.account_store):
- `spend_settings`: what the customer chose on the account page (tollgate.domain.usage_alerts.SpendChoices);
- `alerts_sent`: which thresholds were emailed this period (tollgate.domain.usage_alerts.UsageAlerts).

Money is kept in the currency's MAJOR unit as a Decimal (`12.50` usd), never a float. A Stripe price
states its unit amount in the MINOR unit (`unit_amount_decimal`, cents for usd; "0.1" is a tenth of
a cent), and the minor unit differs per currency: zero-decimal currencies (jpy, krw, ...) have
none, a few have three decimals ("All API requests expect amount values in the currency's minor
unit", https://docs.stripe.com/currencies#zero-decimal and #three-decimal).

The period's charges are billable calls times the unit price: what Stripe's meter bills for a per-unit
price. A tiered price has no unit price (its tiers apply to the period's total): alerts on amounts
and a cap are refused on such a plan, since the charges could not be told until the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tollgate.plans import Plan

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# A free plan's alerts when the customer chose none: the two the issue asks for (a warning, and the
# moment calls stop). A paid plan has none by default: its customer chose to pay per call.
DEFAULT_FREE_QUOTA_PERCENTS = (80, 100)
MAX_THRESHOLDS = 5  # of each kind: each is an email a period, and a line on the account page


def currency_decimals(currency: str) -> int:
    """How many decimals the currency's major unit has (usd 2, jpy 0, kwd 3)."""
    lower = currency.lower()
    return 0 if lower in ZERO_DECIMAL_CURRENCIES else 3 if lower in THREE_DECIMAL_CURRENCIES else 2


def as_amount(text: str | None) -> Decimal | None:
    """A setting's or a row's amount (a decimal string in the major unit), or None; ValueError when it is not one."""
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount like 25 or 25.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r} is not an amount greater than 0")
    return value


def charges(billable_calls: int, unit_amount_minor: str, currency: str) -> Decimal | None:
    """What `billable_calls` cost at a per-unit price of `unit_amount_minor` (Stripe's
    unit_amount_decimal, in the minor unit), in the major unit, unrounded; None for a tiered price ("")."""
    if unit_amount_minor == "":
        return None
    return billable_calls * Decimal(unit_amount_minor) / (Decimal(10) ** currency_decimals(currency))


def shown(amount: Decimal, currency: str) -> str:
    """An amount as a customer reads it: `12.50 USD` (rounded down to the currency's decimals, so a
    figure shown is never more than was charged)."""
    exponent = Decimal(1).scaleb(-currency_decimals(currency))
    return f"{amount.quantize(exponent, rounding='ROUND_DOWN')} {currency.upper()}"


class ThresholdKind(StrEnum):
    QUOTA = "quota"  # a percentage of the plan's quota
    AMOUNT = "amount"  # an amount of the period's charges, in the plan's currency


@dataclass(frozen=True)
class Threshold:
    kind: ThresholdKind
    value: Decimal  # a percentage (QUOTA) or an amount in the major unit (AMOUNT)

    @property
    def id(self) -> str:
        """What `alerts_sent` records: `quota:80`, `amount:25.5` (normalised: 25.50 and 25.5 are one)."""
        return f"{self.kind.value}:{_plain(self.value)}"


@dataclass(frozen=True)
class SpendSettings:
    """What the customer chose on the account page (the row's `spend_settings`)."""

    quota_percents: tuple[int, ...] | None = None  # None: the plan's default (DEFAULT_FREE_QUOTA_PERCENTS on free)
    amounts: tuple[Decimal, ...] = ()  # alert at these charges this period (paid plans)
    cap: Decimal | None = None  # the customer's monthly cap; None: the plan's default cap
    no_cap: bool = False  # the customer removed the cap (a plan with a maximum keeps it: `effective_cap`)


@dataclass(frozen=True)
class AlertsSent:
    """Which thresholds were emailed, each for the period it was crossed in (the row's `alerts_sent`):
    marks `quota:80@1764547200`, a threshold id and its period's start (`alert_mark`). A quota
    threshold belongs to the plan's quota period, an amount to the billing period, and the two need not
    start together. A threshold is first CLAIMED (`claimed`, with when), then the email is sent, then it
    is `sent`: one sender wins the claim (the versioned row), and a claim whose sender died is sent again
    by the next check once it is older than CLAIM_LEASE_SECONDS (tollgate.domain.usage_alerts). A mark
    is dropped once a later period of its kind has one, so the row keeps a few marks at most."""

    sent: tuple[str, ...] = ()
    claimed: tuple[tuple[str, int], ...] = ()  # (mark, claimed at epoch seconds)

    @property
    def marks(self) -> tuple[str, ...]:
        return (*self.sent, *(mark for mark, _ in self.claimed))


def alert_mark(threshold: Threshold, period_start: int) -> str:
    return f"{threshold.id}@{period_start}"


def mark_parts(mark: str) -> tuple[str, int]:
    """(threshold id, period start) of a mark."""
    threshold_id, _, start = mark.rpartition("@")
    return threshold_id, int(start)


def mark_kind(mark: str) -> str:
    return mark.split(":", 1)[0]


@dataclass(frozen=True)
class Window:
    """A period: [start, end), epoch seconds."""

    start: int
    end: int


@dataclass(frozen=True)
class QuotaUsage:
    """The calls counted against the plan's quota in its current quota period."""

    window: Window
    calls: int


@dataclass(frozen=True)
class PeriodCharges:
    """The charges of the current billing period: its billable calls times their prices' unit amounts."""

    window: Window
    billable: int
    spent: Decimal  # in the currency's major unit
    currency: str


@dataclass(frozen=True)
class SpendFigures:
    """What alerts and the cap are checked against now (None: not measured, or not measurable: no
    charges on a free plan, a plan without a subscription or a tiered price)."""

    quota: QuotaUsage | None = None
    charges: PeriodCharges | None = None

    def window(self, kind: ThresholdKind) -> Window | None:
        """The period a threshold of `kind` belongs to."""
        measured = self.quota if kind is ThresholdKind.QUOTA else self.charges
        return measured.window if measured is not None else None


def thresholds(settings: SpendSettings | None, plan: Plan) -> tuple[Threshold, ...]:
    """The thresholds that apply to an account on `plan`: its choice, or the plan's default; amounts
    only on a paid plan (a free plan charges nothing)."""
    chosen = settings or SpendSettings()
    percents = chosen.quota_percents
    if percents is None:
        percents = DEFAULT_FREE_QUOTA_PERCENTS if plan.is_free else ()
    found = [Threshold(ThresholdKind.QUOTA, Decimal(percent)) for percent in sorted(set(percents))]
    if not plan.is_free:
        found += [Threshold(ThresholdKind.AMOUNT, amount) for amount in sorted(set(chosen.amounts))]
    return tuple(found)


def crossed(threshold: Threshold, plan: Plan, figures: SpendFigures) -> bool:
    """The usage reached the threshold (100 % of the quota: the quota is used up)."""
    if threshold.kind is ThresholdKind.QUOTA:
        return figures.quota is not None and figures.quota.calls * 100 >= threshold.value * plan.quota_limit
    return figures.charges is not None and figures.charges.spent >= threshold.value


def effective_cap(settings: SpendSettings | None, plan: Plan) -> Decimal | None:
    """The cap that applies: the customer's (at most the plan's maximum), else the plan's default,
    else the maximum; None: no cap (a free plan, or no cap chosen and none set by the owner)."""
    if plan.is_free:
        return None
    maximum, default = as_amount(plan.spend_cap_max), as_amount(plan.spend_cap_default)
    chosen = settings or SpendSettings()
    if chosen.cap is not None:
        wanted: Decimal | None = chosen.cap
    elif chosen.no_cap:
        wanted = None
    else:
        wanted = default
    if maximum is None:
        return wanted
    return maximum if wanted is None else min(wanted, maximum)


def cap_reached(settings: SpendSettings | None, plan: Plan, charges: PeriodCharges | None) -> bool:
    """The period's charges reached the cap: the account's calls stop until the period ends or the cap is raised."""
    cap = effective_cap(settings, plan)
    return cap is not None and charges is not None and charges.spent >= cap


def _plain(value: Decimal) -> str:
    """`25.50` -> `25.5`, `100` -> `100` (never `1E+2`)."""
    return format(value.normalize(), "f")
