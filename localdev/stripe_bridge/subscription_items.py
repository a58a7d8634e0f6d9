"""Gap 14: localstripe keeps exactly one item per subscription, has no item-level billing period,
and sends no `customer.subscription.updated`.

A plan change adds the new plan's metered price as a second item and removes the old one later
(docs/plans.md), through `POST /v1/subscriptions/{id}` with `items[]`
(https://docs.stripe.com/api/subscriptions/update): `{price}` adds an item, `{id, deleted: true}`
removes one. localstripe answers 500 to more than one item and, given one, replaces the item and
bills "unused time". So the bridge holds the items of a subscription itself once they changed
(localstripe keeps its one original item, whose $0 plan bills nothing, see prices.py), and every
subscription the bridge returns shows them.

- Items carry `created` and, since API 2025-03-31, the billing period
  (`current_period_start`/`_end`), which the subscription no longer has
  (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end).
  In billing_mode=classic every item of a subscription shares its billing cycle.
- An added item's usage is billed from its `created` only (invoice_preview.py; "Update prices
  mid-cycle", https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup).
- Stripe refuses a second item with the same price and removing the last item.
- `cancel_at_period_end` goes to localstripe, which stores it and shows it.
- The update is answered, then `customer.subscription.updated` is sent with `previous_attributes`
  holding the old `items` and/or `cancel_at_period_end`, as Stripe's events follow the answer.

Not bridged: prorations (only metered prices can be added, and classic billing prorates no
metered usage), changing an existing item (`{id, price}`, quantities), `POST
/v1/subscription_items`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from localdev.stripe_bridge.core import (
    StripeError,
    Upstream,
    as_bool,
    new_id,
    reject_unknown,
    stored,
)
from localdev.stripe_bridge.prices import PriceState

UPDATE_PARAMS = ("items", "cancel_at_period_end", "proration_behavior", "metadata")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


@dataclass
class SubscriptionItemState:
    """The items of each subscription whose items changed through the bridge (subscription id ->
    items, oldest first, as Stripe lists them); localstripe's own item for any other."""

    by_subscription: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def shown(self, subscription: dict[str, Any]) -> dict[str, Any]:
        """A localstripe subscription as the pinned API version shows it: the bridge's items, each
        with the billing period, which moves off the subscription."""
        start = subscription.pop("current_period_start", None)
        end = subscription.pop("current_period_end", None)
        items = subscription.get("items")
        if not isinstance(items, dict):
            return subscription
        held = self.by_subscription.get(subscription.get("id", ""))
        if held is not None:
            items["data"] = copy.deepcopy(held)
            items["total_count"] = len(held)
        for item in items["data"]:
            item.setdefault("current_period_start", start)
            item.setdefault("current_period_end", end)
        return subscription


class ItemChanges:
    """Applies an update's `items[]` to a subscription's items, in Stripe's order of checks."""

    def __init__(self, upstream: Upstream, prices: PriceState, state: SubscriptionItemState) -> None:
        self._upstream = upstream
        self._prices = prices
        self._state = state

    def check(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool | None]:
        """The requested item changes and cancel_at_period_end, or Stripe's 400 for a malformed update."""
        reject_unknown(params, UPDATE_PARAMS)
        behavior = params.get("proration_behavior")
        if behavior is not None and behavior not in PRORATION_BEHAVIORS:
            raise StripeError(
                400,
                f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}",
                param="proration_behavior",
            )
        items = params.get("items") or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise StripeError(400, "Invalid array", param="items")
        for index, item in enumerate(items):
            keys = set(item) - {"metadata"}
            if keys == {"id", "deleted"} and as_bool(item["deleted"], f"items[{index}][deleted]"):
                continue
            if keys != {"price"}:
                raise StripeError(
                    400,
                    "The bridge adds an item with {price} and removes one with {id, deleted: "
                    "true}; it does not change an existing item.",
                    param=f"items[{index}]",
                )
        cancel = params.get("cancel_at_period_end")
        return items, as_bool(cancel, "cancel_at_period_end") if cancel is not None else None

    async def apply(self, subscription: dict[str, Any], changes: list[dict[str, Any]], key: str) -> None:
        """Store the subscription's items after `changes` (all checked before any is kept)."""
        items = copy.deepcopy(self._state.by_subscription.get(subscription["id"], subscription["items"]["data"]))
        for index, change in enumerate(changes):
            if "price" in change:
                items.append(await self._new_item(subscription["id"], items, change, index, key))
                continue
            if not any(item["id"] == change["id"] for item in items):
                raise StripeError(
                    400,
                    f"No such subscription item: '{change['id']}'",
                    param=f"items[{index}][id]",
                    code="resource_missing",
                )
            items = [item for item in items if item["id"] != change["id"]]
        if not items:
            raise StripeError(
                400, "A subscription needs at least one item: add one before removing the last.", param="items"
            )
        self._state.by_subscription[subscription["id"]] = items

    async def _new_item(
        self, subscription_id: str, items: list[dict[str, Any]], change: dict[str, Any], index: int, key: str
    ) -> dict[str, Any]:
        param = f"items[{index}][price]"
        price = stored(self._prices.by_id, "price", change["price"], param)
        if (price["recurring"] or {}).get("usage_type") != "metered":
            raise StripeError(
                400,
                f"The bridge adds metered prices only (it does not prorate): {price['id']} is not one.",
                param=param,
            )
        if any(_price_of(item) == price["id"] for item in items):
            raise StripeError(
                400, f"Cannot add multiple subscription items with the same price: {price['id']}.", param=param
            )
        plan = await self._upstream.call("GET", f"/v1/plans/{price['id']}", key)
        return {
            "id": new_id("si_"),
            "object": "subscription_item",
            "created": int(time.time()),
            "discounts": [],
            "livemode": False,
            "metadata": change.get("metadata") or {},
            "plan": plan,
            "price": dict(price),
            "subscription": subscription_id,
            "tax_rates": [],
        }


def _price_of(item: dict[str, Any]) -> str:
    price = item.get("price")
    return price["id"] if isinstance(price, dict) else item["plan"]["id"]
