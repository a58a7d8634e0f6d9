"""`make stripe-setup --plans`: a product, a billing meter and a metered price for every paid plan.

Input: a `plans` block (cdk.json's, or a file in the same shape; checked by infra.plan_settings
before any Stripe call) and a price file naming, per paid plan, how its price is built:

    {"pro":   {"unit_amount": "0.05"},
     "scale": {"pricing_model": "graduated",
               "tiers": [{"up_to": 100000, "unit_amount_decimal": "0.05"},
                         {"up_to": "inf", "unit_amount_decimal": "0.02"}]}}

A plan is paid when the price file names it; one that has a stripe_price_id but no entry is
refused (its price would silently stay what it was), and a free plan gets nothing in Stripe. A paid
plan's price_text (what the pages show as its price) must state the price per call the entry makes
(infra.price_text): "$0.001 per call" for {"unit_amount": "0.1"} in usd.

Each paid plan gets its OWN meter and price: a plan change keeps the old price's subscription item
until the period ends while the new price's item bills what comes after; a meter event names a
customer, not a price, so two prices on one meter would both bill every call. Plans that would share
a meter (or a lookup key, hence a price) are refused, naming them. Its own product too, named
"<product name> (<plan name>)": Stripe prints the product name on the invoice line.

Names are derived from a prefix (one per deployment sharing a Stripe account): lookup key
`<prefix>_<plan id>`, meter event `<prefix>_<plan id>_calls`; a plan's entry may set
`meter_event_name`, `lookup_key` or `product_name` instead (e.g. to keep the meter and price an
earlier single-plan `make stripe-setup` made for the plan that now carries its subscriptions).
Currency and billing interval are the command's, the same for every plan: during a plan change both
prices are items of one subscription, billed on a single invoice each period
(https://docs.stripe.com/billing/subscriptions/multiple-products), and an invoice has one currency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infra.plan_settings import PlanSettings, PlanSettingsError, read_plans
from infra.price_text import PriceTextError, check_paid_plan
from ops.catalog_setup import CatalogResult, CatalogSetup
from ops.catalog_spec import CatalogSpec, SetupError, decimal_amount, positive_int, tier

DEFAULT_PREFIX = "tollgate"
PRICE_FIELDS = (
    "pricing_model",
    "unit_amount",
    "package_size",
    "tiers",
    "meter_event_name",
    "lookup_key",
    "product_name",
)
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,40}$")
# CatalogSpec names the command-line option at fault; in a price file the field has this name.
_FILE_FIELD_OF_OPTION = {
    "--pricing-model": "pricing_model",
    "--unit-amount": "unit_amount",
    "--package-size": "package_size",
    "--tier": "tiers",
    "--meter-event-name": "meter_event_name",
    "--lookup-key": "lookup_key",
    "--product-name": "product_name",
}


@dataclass(frozen=True)
class PaidPlan:
    plan_id: str
    spec: CatalogSpec


def paid_plans(
    block: Any,
    prices: Any,
    *,
    source: str,
    product_name: str,
    currency: str,
    interval: str,
    prefix: str = DEFAULT_PREFIX,
) -> tuple[PaidPlan, ...]:
    """One CatalogSpec per plan the price file names, in the block's order. SetupError, naming the
    plan, for a block the stack would refuse once filled in, or a price that cannot be made."""
    if not _PREFIX.match(prefix):
        raise SetupError("--plan-prefix must be 1-41 letters, digits or '_', starting with a letter or digit")
    if not isinstance(prices, dict):
        raise SetupError(
            "the --prices file must be a JSON object with an entry per paid plan id, e.g. "
            '{"pro": {"unit_amount": "0.05"}}'
        )
    if not isinstance(block, list) or not block or not all(isinstance(item, dict) for item in block):
        raise SetupError(f'{source} must be a non-empty list of plan objects, like cdk.json\'s "plans"')
    ids = [item.get("id") for item in block]
    for plan_id in prices:
        if plan_id not in ids:
            raise SetupError(
                f"the --prices file prices plan {plan_id!r}, which {source} does not have "
                f"(its plans: {', '.join(map(str, ids))})"
            )
    for item in block:
        if item.get("stripe_price_id") and item["id"] not in prices:
            raise SetupError(
                f"plan {item['id']!r} has stripe_price_id {item['stripe_price_id']!r} but the --prices "
                'file has no entry for it: add its pricing, or set its stripe_price_id to "" to make '
                "it free"
            )
    plans = _as_the_stack_reads(block, prices, source)
    paid = tuple(
        PaidPlan(plan.id, _plan_spec(plan, prices[plan.id], product_name, currency, interval, prefix))
        for plan in plans
        if plan.id in prices
    )
    if not paid:
        raise SetupError("the --prices file names no plan: every plan is free, and there is nothing to create")
    _refuse_shared(paid, "meter_event_name", "meter", "both would bill every call reported to it")
    _refuse_shared(paid, "lookup_key", "price", "each plan needs its own price")
    specs = {plan.plan_id: plan.spec for plan in paid}
    for plan in plans:
        if plan.id in specs:
            _check_price_text(plan, specs[plan.id])
    return paid


def _as_the_stack_reads(
    block: list[dict[str, Any]], paid_ids: Mapping[str, Any], source: str
) -> tuple[PlanSettings, ...]:
    """The block as infra.plan_settings reads it once each paid plan has its price (a stand-in id
    here: before setup a plan may have none yet, or share cdk.json's placeholder with another),
    so nothing is created for a block synth would then refuse."""
    filled = filled_plan_block(block, {plan_id: f"price_setup_stand_in_{plan_id}" for plan_id in paid_ids})

    def no_flat_settings() -> PlanSettings:
        raise AssertionError("a non-empty plans list never falls back to the flat settings")

    try:
        return read_plans({"plans": filled}, no_flat_settings)
    except PlanSettingsError as error:
        raise SetupError(f"{source}: {error}") from None


def _plan_spec(
    plan: PlanSettings, entry: Any, product_name: str, currency: str, interval: str, prefix: str
) -> CatalogSpec:
    where = f"plan {plan.id!r} in the --prices file"
    if not isinstance(entry, dict):
        raise SetupError(f'{where} must be an object such as {{"unit_amount": "0.05"}}; got {entry!r}')
    unknown = sorted(set(entry) - set(PRICE_FIELDS))
    if unknown:
        raise SetupError(f"{where}: unknown field {unknown[0]!r}; use {', '.join(PRICE_FIELDS)}")
    try:
        tiers = entry.get("tiers", [])
        if not isinstance(tiers, list) or not all(isinstance(item, dict) for item in tiers):
            raise SetupError('tiers must be a list of objects like {"up_to": 1000, "unit_amount_decimal": "0.5"}')
        return CatalogSpec(
            product_name=_text(entry, "product_name", f"{product_name.strip()} ({plan.name})"),
            meter_event_name=_text(entry, "meter_event_name", f"{prefix}_{plan.id}_calls"),
            lookup_key=_text(entry, "lookup_key", f"{prefix}_{plan.id}"),
            pricing_model=_text(entry, "pricing_model", "per-unit"),
            unit_amount_decimal=_amount(entry.get("unit_amount")),
            package_size=None if entry.get("package_size") is None else positive_int(_scalar(entry["package_size"])),
            tiers=tuple(
                tier({name: _scalar(value) for name, value in item.items()}, f"tier {index + 1}")
                for index, item in enumerate(tiers)
            ),
            currency=currency,
            interval=interval,
        )
    except SetupError as error:
        message = re.sub(r"--[a-z-]+", lambda m: _FILE_FIELD_OF_OPTION.get(m.group(0), m.group(0)), str(error))
        raise SetupError(f"{where}: {message}") from None


def _check_price_text(plan: PlanSettings, spec: CatalogSpec) -> None:
    """The pages show the plan's price_text as its price: it must say what `spec` bills."""
    try:
        check_paid_plan(plan.id, plan.price_text, spec.currency, spec.per_call_rates(), spec.billed())
    except PriceTextError as error:
        raise SetupError(f"{error} (price_text is in the plans block, the price in the --prices file)") from None


def _text(entry: Mapping[str, Any], field: str, default: str) -> str:
    value = entry.get(field, default)
    if not isinstance(value, str):
        raise SetupError(f"{field} must be text; got {value!r}")
    return value


def _scalar(value: Any) -> str:
    """A JSON number or string as the text the command line would have given."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SetupError(f"{value!r} must be a number or a string")
    return str(value)


def _amount(value: Any) -> Decimal | None:
    return None if value is None else decimal_amount(_scalar(value))


def _refuse_shared(paid: Sequence[PaidPlan], attribute: str, what: str, why: str) -> None:
    owners: dict[str, str] = {}
    for plan in paid:
        value = getattr(plan.spec, attribute)
        if value in owners:
            raise SetupError(
                f"plans {owners[value]!r} and {plan.plan_id!r} would share the {what} {value!r} ({why}): "
                f"give one of them its own {attribute} in the --prices file"
            )
        owners[value] = plan.plan_id


def ensure_plans(setup: CatalogSetup, paid: Sequence[PaidPlan]) -> dict[str, CatalogResult]:
    """Find or create each paid plan's product, meter and price (an unchanged re-run creates nothing)."""
    return {plan.plan_id: setup.ensure_price(plan.spec) for plan in paid}


def filled_plan_block(raw: Sequence[Mapping[str, Any]], price_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The plans block as given, with each paid plan's stripe_price_id set to its price."""
    return [
        {**item, "stripe_price_id": price_ids[item["id"]]} if item["id"] in price_ids else dict(item) for item in raw
    ]
