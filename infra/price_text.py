"""What a plan's `price_text` tells customers a call costs, read back so it can be held to the price
that really bills them.

The signup page and the key page show `price_text` as the plan's price; Stripe bills the plan's
metered price. A text that contradicts the price (a page advertising a fifth of what Stripe bills)
is refused: by `make stripe-setup --plans` against the price it creates (ops.plan_catalog), and at
synth for a free plan, which bills nothing (infra.plan_settings). A paid plan's amount is not known
at synth: its stripe_price_id names a Stripe object that synth does not read.

Read from the text: every amount followed by a number of calls, such as "$0.001 per call",
"$1 per 1,000 calls", "0.1¢ a request", "€2 / 1k calls", "USD 0.50 per 1M requests". An amount is
marked as money by a currency symbol, an ISO code in capitals, or ¢/cents; a bare number ("1,000
calls a month") is a quantity, not a price. Amounts are compared in the currency's minor unit, as
Stripe's `unit_amount_decimal` holds them ("All API requests expect amount values in the currency's
minor unit", https://docs.stripe.com/currencies#minor-units): cents for most currencies, the unit
itself for zero-decimal ones (https://docs.stripe.com/currencies#zero-decimal), a thousandth for
three-decimal ones (https://docs.stripe.com/currencies#three-decimal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# The currencies a symbol can stand for ($ is the dollar of several countries).
SYMBOL_CURRENCIES = {
    "$": frozenset({"usd", "cad", "aud", "nzd", "sgd", "hkd"}),
    "€": frozenset({"eur"}),
    "£": frozenset({"gbp"}),
    "¥": frozenset({"jpy", "cny"}),
    "₹": frozenset({"inr"}),
}
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
_NUMBER = r"\d[\d,]*(?:\.\d+)?|\.\d+"
# An amount (marked as money), "per"/"a"/"/", an optional number of calls, then "call(s)"/"request(s)".
# Words match in any case; an ISO code only in capitals, so "for 2 calls" names no currency.
_STATED_RATE = re.compile(
    rf"(?P<symbol>[$€£¥₹])?(?:(?P<code_before>\b[A-Z]{{3}})\s?)?(?P<amount>{_NUMBER})"
    r"\s?(?P<after>¢|(?i:cents?)\b|[A-Z]{3}\b)?"
    r"\s*(?:(?i:per|an?|each|every)\b|/)\s*"
    rf"(?:(?P<count>{_NUMBER})\s?(?P<scale>(?i:k|m|thousand|million))?\b\s*)?"
    r"(?:(?i:api|successful|billable|metered)\s+)?(?i:calls?|requests?)\b"
)


class PriceTextError(ValueError):
    """price_text contradicts what the plan is billed; the message names the plan and both values."""


@dataclass(frozen=True)
class StatedRate:
    """One price per call the text states: `shown` as written, `per_call` in the currency's major unit
    (or its minor unit when `minor` is set: "0.1¢"), `currencies` the ones its mark can stand for."""

    shown: str
    per_call: Decimal
    minor: bool
    currencies: frozenset[str] | None  # None: no currency named (only ¢)

    def in_minor_units(self, currency: str) -> Decimal:
        return self.per_call if self.minor else self.per_call * minor_units_per_major(currency)


def minor_units_per_major(currency: str) -> int:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 1
    return 1_000 if currency in THREE_DECIMAL_CURRENCIES else 100


def stated_rates(price_text: str) -> tuple[StatedRate, ...]:
    """Every price per call `price_text` states (an amount marked as money, then a number of calls)."""
    rates = []
    for match in _STATED_RATE.finditer(price_text):
        after = match["after"] or ""
        minor = after == "¢" or after.lower() in ("cent", "cents")
        code = match["code_before"] or ("" if minor else after)
        if not (match["symbol"] or code or minor):
            continue  # a bare number: a quantity such as "1,000 calls a month"
        calls = Decimal(match["count"].replace(",", "")) if match["count"] else Decimal(1)
        calls *= _SCALE.get((match["scale"] or "").lower(), 1)
        currencies = (
            SYMBOL_CURRENCIES[match["symbol"]] if match["symbol"] else (frozenset({code.lower()}) if code else None)
        )
        rates.append(
            StatedRate(match.group(0).strip(), Decimal(match["amount"].replace(",", "")) / calls, minor, currencies)
        )
    return tuple(rates)


def check_free_plan(plan_id: str, price_text: str) -> None:
    """A free plan bills nothing: its text must not state a price per call above zero."""
    for rate in stated_rates(price_text):
        if rate.per_call:
            raise PriceTextError(
                f"plan {plan_id!r} is free (no stripe_price_id: nothing is billed) but its price_text {price_text!r} "
                f"says {rate.shown!r}: remove the price from the text, or give the plan a stripe_price_id "
                "(make stripe-setup --plans)"
            )


def check_paid_plan(
    plan_id: str, price_text: str, currency: str, rates_in_minor_units: Iterable[Decimal], billed: str
) -> None:
    """Every price per call the text states must be one `rates_in_minor_units` charges (in `currency`'s
    minor unit; one per tier for a tiered price), and the text must state at least one. `billed` says
    in words what the price bills, for the message."""
    rates = set(rates_in_minor_units)
    stated = stated_rates(price_text)
    if not stated:
        raise PriceTextError(
            f"plan {plan_id!r}: price_text {price_text!r} states no price per call, and customers "
            f"read it as the plan's price; say what Stripe bills: {billed}"
        )
    for rate in stated:
        quoted = "" if rate.shown == price_text.strip() else f" ({rate.shown!r})"
        if rate.currencies is not None and currency not in rate.currencies:
            raise PriceTextError(
                f"plan {plan_id!r}: price_text {price_text!r} names a price{quoted} in another "
                f"currency than {currency.upper()}, the one its Stripe price bills: {billed}"
            )
        says = major_amount(rate.in_minor_units(currency), currency)
        if rate.in_minor_units(currency) not in rates:
            raise PriceTextError(
                f"plan {plan_id!r}: price_text {price_text!r} says {says} per call{quoted}, but its "
                f"Stripe price bills {billed}: make them agree"
            )


def major_amount(minor_units: Decimal, currency: str) -> str:
    """A minor-unit amount in the major unit, as a text would write it: 0.1 usd cents -> "0.001 USD"."""
    major = (minor_units / minor_units_per_major(currency)).normalize()
    return f"{major:f} {currency.upper()}"
