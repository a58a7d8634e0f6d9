"""Gap 2: localstripe has no `/v1/prices`; gap 4 (first half): it invoices a metered plan up front.

Prices (create; retrieve, as the usage reporter finds the price's meter; list by `lookup_keys[]` and
`active`, as `make stripe-setup` finds its price) live
in the bridge, in Stripe's shape. Each recurring price is backed by a localstripe plan WITH THE
SAME ID (`price_...`), so subscriptions and invoices work (see subscriptions.py).

localstripe bills a metered plan as if licensed (quantity 1, up front), so a subscription would
need a default payment method; real Stripe bills metered usage in arrears and the first invoice
is $0. The plan behind a metered price is therefore created with amount 0 (localstripe cannot rate
usage anyway), which reproduces Stripe's "$0 now, no payment method needed" without inventing a
card. Licensed prices keep their amount and localstripe's own payment-method behaviour.

The bridge stores what it is given; it does not re-check Tollgate's pricing rules (tier order,
the open last tier, package sizes): ops.catalog_spec.CatalogSpec validates those before any
Stripe call. It does keep the Stripe rules whose answer our code depends on: a metered price
needs an existing `recurring[meter]` (API 2025-03-31.basil), the product must exist, and a
lookup key belongs to one price unless `transfer_lookup_key` moves it
(https://docs.stripe.com/api/prices/create).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    amount_pair,
    api_key,
    as_bool,
    as_int,
    missing,
    new_id,
    paginate,
    reject_unknown,
    request_params,
    require,
    stored,
)
from localdev.stripe_bridge.meters import MeterState

_CREATE_PARAMS = (
    "currency",
    "product",
    "unit_amount",
    "unit_amount_decimal",
    "recurring",
    "billing_scheme",
    "tiers",
    "tiers_mode",
    "transform_quantity",
    "lookup_key",
    "transfer_lookup_key",
    "metadata",
    "active",
)


@dataclass
class PriceState:
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)


class Prices:
    def __init__(self, upstream: Upstream, state: PriceState, meters: MeterState) -> None:
        self._upstream = upstream
        self._state = state
        self._meters = meters

    def routes(self) -> list[Route]:
        return [
            ("POST", "/v1/prices", self.create),
            ("GET", "/v1/prices", self.list),
            ("GET", "/v1/prices/{id}", self.retrieve),
        ]

    async def create(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, _CREATE_PARAMS)
        price = self._price(params)
        holder = self._lookup_key_holder(
            price["lookup_key"], as_bool(params.get("transfer_lookup_key"), "transfer_lookup_key")
        )
        key = api_key(request)
        await self._upstream.require_object("product", "products", price["product"], key, "product")
        if price["recurring"]:
            await self._upstream.call("POST", "/v1/plans", key, _backing_plan(price))
        if holder is not None:
            holder["lookup_key"] = None
        self._state.by_id[price["id"]] = price
        return web.json_response(price)

    async def retrieve(self, request: web.Request) -> web.Response:
        return web.json_response(stored(self._state.by_id, "price", request.match_info["id"]))

    async def list(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("active", "lookup_keys", "limit", "starting_after"))
        prices = list(self._state.by_id.values())
        if "active" in params:
            active = as_bool(params["active"], "active")
            prices = [p for p in prices if p["active"] == active]
        if "lookup_keys" in params:
            wanted = params["lookup_keys"] if isinstance(params["lookup_keys"], list) else [params["lookup_keys"]]
            prices = [p for p in prices if p["lookup_key"] in wanted]
        return web.json_response(paginate(prices, params, "/v1/prices"))

    def _price(self, params: dict[str, Any]) -> dict[str, Any]:
        recurring = self._recurring(params)
        unit_amount, unit_amount_decimal = amount_pair(params, "unit_amount")
        transform = params.get("transform_quantity")
        return {
            "id": new_id("price_"),
            "object": "price",
            "active": as_bool(params.get("active", True), "active"),
            "billing_scheme": params.get("billing_scheme", "per_unit"),
            "created": int(time.time()),
            "currency": str(require(params, "currency")).lower(),
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": params.get("lookup_key") or None,
            "metadata": params.get("metadata") or {},
            "nickname": None,
            "product": require(params, "product"),
            "recurring": recurring,
            "tax_behavior": "unspecified",
            "tiers": [_tier(tier, index) for index, tier in enumerate(params["tiers"])]
            if params.get("tiers")
            else None,
            "tiers_mode": params.get("tiers_mode"),
            "transform_quantity": {
                "divide_by": as_int(transform.get("divide_by"), "transform_quantity[divide_by]"),
                "round": transform.get("round"),
            }
            if transform
            else None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount_decimal,
        }

    def _recurring(self, params: dict[str, Any]) -> dict[str, Any] | None:
        recurring = params.get("recurring")
        if not recurring:
            return None
        usage_type = recurring.get("usage_type", "licensed")
        meter = require(params, "recurring", "meter") if usage_type == "metered" else recurring.get("meter")
        if meter and meter not in self._meters.by_id:
            raise missing("billing meter", meter, "recurring[meter]")
        return {
            "aggregate_usage": None,
            "interval": recurring.get("interval"),
            "interval_count": as_int(recurring.get("interval_count", 1), "recurring[interval_count]"),
            "meter": meter,
            "trial_period_days": None,
            "usage_type": usage_type,
        }

    def _lookup_key_holder(self, lookup_key: str | None, transfer: bool | None) -> dict[str, Any] | None:
        """The price that holds `lookup_key` now, if the new one may take it over; Stripe's 400 if not."""
        holder = next((p for p in self._state.by_id.values() if lookup_key and p["lookup_key"] == lookup_key), None)
        if holder is not None and not transfer:
            raise StripeError(400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
        return holder


def _tier(tier: dict[str, Any], index: int) -> dict[str, Any]:
    """One tier in Stripe's shape: `up_to` inf is null; amounts as integer (when whole) and decimal string."""
    unit_amount, unit_amount_decimal = amount_pair(tier, "unit_amount")
    flat_amount, flat_amount_decimal = amount_pair(tier, "flat_amount")
    up_to = tier.get("up_to")
    return {
        "flat_amount": flat_amount,
        "flat_amount_decimal": flat_amount_decimal,
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount_decimal,
        "up_to": None if up_to == "inf" else as_int(up_to, f"tiers[{index}][up_to]"),
    }


def _backing_plan(price: dict[str, Any]) -> dict[str, Any]:
    """The localstripe plan behind a recurring price (same id). Metered → amount 0: gap 4."""
    recurring = price["recurring"]
    plan: dict[str, Any] = {
        "id": price["id"],
        "product": price["product"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "usage_type": recurring["usage_type"],
        "active": price["active"],
    }
    if recurring["usage_type"] == "metered":
        plan["amount"] = 0
    elif price["billing_scheme"] == "tiered":
        plan.update(
            billing_scheme="tiered",
            tiers_mode=price["tiers_mode"],
            tiers=[
                {
                    "up_to": "inf" if t["up_to"] is None else t["up_to"],
                    "unit_amount": t["unit_amount"] or 0,
                    "flat_amount": t["flat_amount"] or 0,
                }
                for t in price["tiers"]
            ],
        )
    else:
        plan["amount"] = price["unit_amount"] or 0
    return plan
