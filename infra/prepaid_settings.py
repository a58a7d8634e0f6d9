"""A plan's prepaid terms in cdk.json's `plans` (issue 21): `"billing": "prepaid"` with the price of a call
and the credit packs customers buy. Plain data, no CDK import (the settings doc and `make dev` read it).

    {"id": "prepaid", ..., "stripe_price_id": "", "billing": "prepaid", "unit_price": "0.001",
     "currency": "usd", "credit_packs": [{"id": "ten", "credit": "10.00", "price": "10.00"}]}

Amounts are decimal strings in the currency's major unit. A prepaid plan has no metered price (its calls
are paid from credit, never sent to a Stripe meter) and requires no saved card (a pack is paid when
bought). Each pack is sold through Stripe Checkout in payment mode for `price`, whose smallest unit
Stripe charges in is the currency's minor unit (cents: https://docs.stripe.com/currencies), so a price
finer than a cent is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from tollgate.plans import CreditPack, PrepaidTerms, micros

BILLING_MODES = ("metered", "prepaid")
PREPAID_FIELDS = ("billing", "unit_price", "currency", "credit_packs")
MAX_PACKS = 5
_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_CURRENCY = re.compile(r"^[a-z]{3}$")
PREPAID_FIELD_EXPECTED = {
    "billing": "one of " + ", ".join(BILLING_MODES) + " (metered: the default)",
    "unit_price": "a decimal amount of the currency per billable call, more than 0, at most 6 decimal places "
    "(e.g. '0.001')",
    "currency": "a three-letter ISO currency code in lowercase (e.g. 'usd')",
    "credit_packs": (
        f"a list of 1 to {MAX_PACKS} packs, each {{'id': 1-32 lowercase letters, digits or '-', "
        "'credit': the amount added, 'price': what Checkout charges, both decimal amounts of the "
        "currency, the price in whole cents}"
    ),
}


class PrepaidSettingsError(ValueError):
    """The field named in the message is not what a prepaid plan takes."""


def read_prepaid(item: dict[str, Any], fail: Any, metered_price: str | None) -> PrepaidTerms | None:
    """The prepaid terms of one plan's settings (`item`), or None for a metered or free plan. `fail(field,
    expected)` makes the error naming the plan and field."""
    billing = item.get("billing", "metered")
    if billing not in BILLING_MODES:
        raise fail("billing", PREPAID_FIELD_EXPECTED["billing"])
    if billing == "metered":
        given = [name for name in PREPAID_FIELDS[1:] if name in item]
        if given:
            raise fail(given[0], 'set only with "billing": "prepaid"')
        return None
    if metered_price:
        raise fail("stripe_price_id", "empty for a prepaid plan (its calls are paid from credit, not metered)")
    if item.get("require_payment_method"):
        raise fail("require_payment_method", "false for a prepaid plan (a credit pack is paid when bought)")
    unit_price = _amount(item.get("unit_price"), lambda: fail("unit_price", PREPAID_FIELD_EXPECTED["unit_price"]))
    currency = item.get("currency", "usd")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise fail("currency", PREPAID_FIELD_EXPECTED["currency"])
    packs = item.get("credit_packs")
    if not isinstance(packs, list) or not 1 <= len(packs) <= MAX_PACKS:
        raise fail("credit_packs", PREPAID_FIELD_EXPECTED["credit_packs"])
    read = tuple(_pack(pack, lambda: fail("credit_packs", PREPAID_FIELD_EXPECTED["credit_packs"])) for pack in packs)
    if len({pack.id for pack in read}) != len(read):
        raise fail("credit_packs", "packs with distinct ids")
    return PrepaidTerms(unit_price, currency, read)


def _pack(pack: Any, fail: Any) -> CreditPack:
    if (
        not isinstance(pack, dict)
        or set(pack) != {"id", "credit", "price"}
        or not isinstance(pack["id"], str)
        or not _PACK_ID.match(pack["id"])
    ):
        raise fail()
    price = _amount(pack["price"], fail)
    if price % 10_000:
        raise fail()  # finer than a cent
    return CreditPack(pack["id"], _amount(pack["credit"], fail), price // 10_000)


def _amount(value: Any, fail: Any) -> int:
    """A positive decimal amount (string or number) in micro-units."""
    try:
        amount = micros(Decimal(str(value))) if isinstance(value, (str, int, float)) else 0
    except (ValueError, InvalidOperation):
        raise fail() from None
    if amount <= 0:
        raise fail()
    return amount
