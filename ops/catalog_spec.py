"""What Tollgate's Stripe catalog should look like, checked before any Stripe call.

`CatalogSpec` holds the product name, the meter's event name and the pricing model of the one
metered price; constructing it applies every rule Stripe would otherwise reject half-way through
a setup (tier order, the open last tier, package sizes, currency, event name and lookup key
formats), with a message naming the `make stripe-setup` option to fix. `price_params` renders it
as `POST /v1/prices` parameters (https://docs.stripe.com/api/prices/create). `decimal_amount` and
`tier` read an amount and a tier the same way whether they come from the command line or from a
plans price file. `per_call_rates` and `billed` say what a call costs, for infra.price_text to hold a
plan's price_text to. ops.catalog_setup makes Stripe match a spec; ops.stripe_setup builds it from the
command line, ops.plan_catalog one per paid plan, localdev.bootstrap from code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from infra.price_text import major_amount

PRICING_MODELS = ("per-unit", "package", "graduated", "volume")
INTERVALS = ("day", "week", "month", "year")
DEFAULT_LOOKUP_KEY = "tollgate_metered"

_CURRENCY = re.compile(r"^[a-z]{3}$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_LOOKUP_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class SetupError(ValueError):
    """A setting is invalid; the message says which one and what is expected."""


@dataclass(frozen=True)
class Tier:
    """One pricing tier; `up_to` None is Stripe's `inf` (the last, open-ended tier)."""

    up_to: int | None
    unit_amount_decimal: Decimal | None = None
    flat_amount_decimal: Decimal | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"up_to": "inf" if self.up_to is None else self.up_to}
        if self.unit_amount_decimal is not None:
            params["unit_amount_decimal"] = str(self.unit_amount_decimal)
        if self.flat_amount_decimal is not None:
            params["flat_amount_decimal"] = str(self.flat_amount_decimal)
        return params


TIER_FIELDS = ("up_to", "unit_amount_decimal", "flat_amount_decimal")


def decimal_amount(text: str) -> Decimal:
    """An amount in the currency's minor unit (cents), as Stripe's `*_decimal` fields take it."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise SetupError(f"{text!r} is not a number (amounts are in cents, e.g. 0.5)") from None
    if not amount.is_finite() or amount < 0:
        raise SetupError(f"{text!r} must be zero or more (in cents)")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:  # (a str exponent only for NaN/inf, refused above)
        raise SetupError(f"{text!r} has more than 12 decimal places, Stripe's maximum")
    return amount


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise SetupError(f"{text!r} must be a whole number of 1 or more")
    return int(text)


def tier(fields: Mapping[str, str], shown: str) -> Tier:
    """A tier from its fields as text (`up_to` may be `inf`); `shown` is how the caller wrote it."""
    unknown = set(fields) - set(TIER_FIELDS)
    if unknown:
        raise SetupError(f"unknown tier field(s) {', '.join(sorted(unknown))}; use {', '.join(TIER_FIELDS)}")
    if "up_to" not in fields:
        raise SetupError(f"{shown} needs up_to=<units> or up_to=inf")
    if "unit_amount_decimal" not in fields and "flat_amount_decimal" not in fields:
        raise SetupError(f"{shown} needs unit_amount_decimal and/or flat_amount_decimal")
    amounts = {name: decimal_amount(fields[name]) for name in TIER_FIELDS[1:] if name in fields}
    up_to = None if fields["up_to"] == "inf" else positive_int(fields["up_to"])
    return Tier(up_to=up_to, **amounts)


@dataclass(frozen=True)
class CatalogSpec:
    """What the catalog should look like. Construction validates every rule the Stripe API
    would otherwise reject half-way through, with a message naming the argument."""

    product_name: str
    meter_event_name: str
    pricing_model: str
    currency: str = "usd"
    unit_amount_decimal: Decimal | None = None  # per unit, or per package, in the currency's minor unit
    package_size: int | None = None
    tiers: tuple[Tier, ...] = ()
    interval: str = "month"
    lookup_key: str = DEFAULT_LOOKUP_KEY
    meter_display_name: str = ""

    def __post_init__(self) -> None:
        if not self.product_name.strip():
            raise SetupError("--product-name must not be empty")
        if not _EVENT_NAME.match(self.meter_event_name):
            raise SetupError(
                "--meter-event-name must be 1-100 letters, digits, '_', '-', '.' or ':' starting with a letter or digit"
            )
        if self.pricing_model not in PRICING_MODELS:
            raise SetupError(f"--pricing-model must be one of {', '.join(PRICING_MODELS)}")
        if not _CURRENCY.match(self.currency):
            raise SetupError("--currency must be a three-letter ISO code such as usd or eur")
        if self.interval not in INTERVALS:
            raise SetupError(f"--interval must be one of {', '.join(INTERVALS)}")
        if not _LOOKUP_KEY.match(self.lookup_key):
            raise SetupError("--lookup-key must be 1-200 letters, digits, '_', '-', '.' or ':'")
        if self.pricing_model in ("per-unit", "package"):
            self._check_flat_price()
        else:
            self._check_tiers()
        if not self.meter_display_name:
            object.__setattr__(self, "meter_display_name", f"{self.product_name.strip()} API calls")

    def _check_flat_price(self) -> None:
        if self.tiers:
            raise SetupError(f"--tier is for the graduated and volume models, not {self.pricing_model}")
        if self.unit_amount_decimal is None:
            raise SetupError(f"--unit-amount is required for the {self.pricing_model} model")
        if self.pricing_model == "package":
            if self.package_size is None or self.package_size < 2:
                raise SetupError("--package-size (2 or more units per package) is required for the package model")
        elif self.package_size is not None:
            raise SetupError("--package-size is only for the package model")

    def _check_tiers(self) -> None:
        if self.unit_amount_decimal is not None or self.package_size is not None:
            raise SetupError(f"the {self.pricing_model} model takes --tier options, not --unit-amount/--package-size")
        if not self.tiers:
            raise SetupError(f"the {self.pricing_model} model needs at least one --tier (the last with up_to=inf)")
        bounds = [tier.up_to for tier in self.tiers]
        if bounds[-1] is not None:
            raise SetupError("the last --tier must have up_to=inf")
        finite = [bound for bound in bounds[:-1] if bound is not None]
        if len(finite) != len(bounds) - 1 or finite != sorted(set(finite)):
            raise SetupError("--tier up_to values must increase strictly, and only the last may be inf")

    def per_call_rates(self) -> tuple[Decimal, ...]:
        """What one call costs, in the currency's minor unit: one rate, or one per tier that has a unit
        amount (a package's price spread over its calls)."""
        if self.tiers:
            return tuple(tier.unit_amount_decimal for tier in self.tiers if tier.unit_amount_decimal is not None)
        assert self.unit_amount_decimal is not None  # __post_init__ requires it without tiers
        return (self.unit_amount_decimal / (self.package_size or 1),)

    def billed(self) -> str:
        """What the price bills, in words: "0.001 USD per call (unit_amount 0.1)"."""
        rates = " or ".join(f"{major_amount(rate, self.currency)} per call" for rate in self.per_call_rates())
        if self.tiers:
            return f"{rates or 'flat amounts only'} ({self.pricing_model} tiers)"
        per = f" per package of {self.package_size:,} calls" if self.package_size else ""
        return f"{rates} (unit_amount {self.unit_amount_decimal}{per}, in the currency's minor unit)"

    def price_params(self, product_id: str, meter_id: str) -> dict[str, Any]:
        """The `POST /v1/prices` parameters for this spec (without lookup key and metadata)."""
        params: dict[str, Any] = {
            "currency": self.currency,
            "product": product_id,
            "recurring": {"interval": self.interval, "usage_type": "metered", "meter": meter_id},
        }
        if self.tiers:
            params.update(
                billing_scheme="tiered",
                tiers_mode=self.pricing_model,
                tiers=[tier.params() for tier in self.tiers],
            )
        else:
            params.update(billing_scheme="per_unit", unit_amount_decimal=str(self.unit_amount_decimal))
            if self.package_size is not None:
                params["transform_quantity"] = {"divide_by": self.package_size, "round": "up"}
        return params
