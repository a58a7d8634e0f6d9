"""Gap 11: localstripe cannot rate usage into an invoice, nor preview the next one
(`POST /v1/invoices/create_preview`).

The preview of a subscription's upcoming invoice, in Stripe's shape since API 2025-03-31 (the
subscription under `parent.subscription_details`, each line's price under
`pricing.price_details`): one line per subscription item for the current period; a metered price's
line has the quantity its meter aggregated for the customer so far in the period (meters.py), and
the amount Stripe's pricing gives it: per unit (with `transform_quantity`), graduated or volume
tiers, in the currency's minor unit rounded half up
(https://docs.stripe.com/api/invoices/create_preview). Licensed items bill their quantity. Nothing
is stored: a preview is not an invoice.

Each item (subscription_items.py, oldest first) has its line. A metered item's usage counts from
the period's start, or from the item's `created` when it was added during the period: in
billing_mode=classic "if you add a new subscription item with a billing meter price in the middle
of the cycle ... the invoice includes usage from January 16 ... at price C for that subscription
item" ("Update prices mid-cycle",
https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup); its line's
period starts there too.
"""

from __future__ import annotations

import math
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import Route, StripeError, Upstream, api_key, new_id, reject_unknown, request_params
from localdev.stripe_bridge.meters import MeterState
from localdev.stripe_bridge.prices import PriceState
from localdev.stripe_bridge.subscription_items import SubscriptionItemState


class InvoicePreview:
    def __init__(
        self, upstream: Upstream, prices: PriceState, meters: MeterState, items: SubscriptionItemState
    ) -> None:
        self._upstream = upstream
        self._prices = prices
        self._meters = meters
        self._items = items

    def routes(self) -> list[Route]:
        return [("POST", "/v1/invoices/create_preview", self.create_preview)]

    async def create_preview(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("customer", "subscription", "expand"))
        if not params.get("subscription"):
            raise StripeError(
                400, "The bridge previews a subscription's upcoming invoice: pass subscription.", param="subscription"
            )
        subscription = self._items.shown(
            await self._upstream.call("GET", f"/v1/subscriptions/{params['subscription']}", api_key(request))
        )
        customer = subscription["customer"]
        if params.get("customer") not in (None, customer):
            raise StripeError(
                400, f"The subscription {subscription['id']} does not belong to {params['customer']}.", param="customer"
            )
        items = subscription["items"]["data"]
        start, end = items[0]["current_period_start"], items[0]["current_period_end"]  # shared (classic)
        lines = [self._line(item, customer, max(start, item["created"]), end) for item in items]
        total = sum(line["amount"] for line in lines)
        return web.json_response(
            {
                "id": new_id("upcoming_in_"),
                "object": "invoice",
                "livemode": False,
                "status": "draft",
                "created": int(time.time()),
                "customer": customer,
                "currency": lines[0]["currency"] if lines else "usd",
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {
                        "subscription": subscription["id"],
                        "metadata": subscription.get("metadata") or {},
                    },
                },
                "period_start": start,
                "period_end": end,
                "subtotal": total,
                "total": total,
                "amount_due": total,
                "lines": {"object": "list", "url": "/v1/invoices/upcoming/lines", "has_more": False, "data": lines},
            }
        )

    def _line(self, item: dict[str, Any], customer: str, start: int, end: int) -> dict[str, Any]:
        price = self._prices.by_id.get(item["plan"]["id"])
        if price is None:
            raise StripeError(
                400,
                f"The bridge can only preview subscriptions on prices: {item['plan']['id']} is a plan.",
                param="subscription",
            )
        recurring = price["recurring"]
        if recurring["usage_type"] == "metered":
            meter = self._meters.by_id[recurring["meter"]]
            quantity = int(self._meters.usage(meter, customer, start, end))
        else:
            quantity = int(item.get("quantity") or 1)
        amount = price_amount(price, quantity)
        return {
            "id": new_id("il_tmp_"),
            "object": "line_item",
            "livemode": False,
            "currency": price["currency"],
            "amount": amount,
            "subtotal": amount,
            "quantity": quantity,
            "description": None,
            "metadata": {},
            "discountable": True,
            "discounts": [],
            "invoice": None,
            "period": {"start": start, "end": end},
            "pricing": {
                "type": "price_details",
                "unit_amount_decimal": price["unit_amount_decimal"],
                "price_details": {"price": price["id"], "product": price["product"]},
            },
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": {"subscription_item": item["id"], "proration": False},
            },
        }


def price_amount(price: dict[str, Any], quantity: int) -> int:
    """What the price charges for `quantity` units, in the currency's minor unit."""
    if price["billing_scheme"] == "tiered":
        amount = _tiered(price["tiers"], price["tiers_mode"], quantity)
    else:
        transform = price["transform_quantity"]
        if transform:
            divided = quantity / transform["divide_by"]
            quantity = math.ceil(divided) if transform["round"] == "up" else math.floor(divided)
        amount = Decimal(price["unit_amount_decimal"] or 0) * quantity
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _tiered(tiers: list[dict[str, Any]], mode: str, quantity: int) -> Decimal:
    """Graduated: each tier prices the units that fall in it. Volume: the tier the total falls in
    prices every unit. Each tier used adds its flat amount."""
    amount, below = Decimal(0), Decimal(0)
    for tier in tiers:
        top = Decimal(tier["up_to"]) if tier["up_to"] is not None else Decimal("Infinity")
        unit, flat = Decimal(tier["unit_amount_decimal"] or 0), Decimal(tier["flat_amount_decimal"] or 0)
        if mode == "volume":
            if quantity <= top:
                return unit * quantity + flat
        elif quantity > below:
            amount += unit * (min(Decimal(quantity), top) - below) + flat
        below = top
    return amount
