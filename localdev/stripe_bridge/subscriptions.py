"""Gaps 3, 4 (second half), 9, 15 and 16: subscriptions on prices, the `invoice.paid` localstripe omits,
the list's order, and the subscriptions a deleted customer leaves behind.

Every subscription it returns (create, retrieve, list, update, cancel) is also shown with the
status the bridge's own open invoices give it (`past_due`, see invoices.py) and with the items
(and their billing periods) of subscription_items.py, which serves updates here (gap 14).

3. localstripe knows `items[].plan`, not `items[].price`. The bridge rewrites `items[i][price]` to
   `items[i][plan]` (the same id: every recurring price is backed by a plan, see prices.py) and
   adds `price` to every subscription item it returns (create, retrieve, cancel).
4. `payment_behavior=default_incomplete` (localstripe knows only allow_incomplete and
   error_if_incomplete) is forwarded as `allow_incomplete`: for the $0 first invoice of a metered
   price both give an active subscription.
9. localstripe pays a new subscription's first invoice but only says `invoice.payment_succeeded`;
   Stripe also sends `invoice.paid`. The bridge sends it, with the subscription under
   `parent.subscription_details.subscription` as API versions since 2025-03-31 shape invoices,
   once the create has been answered (as Stripe's events come after the API answer).
15. localstripe lists subscriptions oldest first, and filters by the status it holds; Stripe lists
   them newest first ("sorted by creation date, with the most recently created appearing first",
   https://docs.stripe.com/api/pagination) and `status` is the one it shows (a subscription owing a
   bridge invoice is `past_due`). The bridge lists them itself: every subscription (of `customer`)
   from localstripe, shown as above, filtered by `status` (by default all but `canceled` and
   `incomplete_expired`), paged newest first.
16. Deleting a customer in localstripe leaves its subscriptions active; Stripe "also immediately
   cancels any active subscriptions on the customer" (https://docs.stripe.com/api/customers/delete).
   The bridge cancels them in localstripe first (which sends `customer.subscription.deleted` for
   each), then deletes the customer.
"""

from __future__ import annotations

import builtins
import copy
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    api_key,
    flatten,
    paginate,
    reject_unknown,
    request_params,
    stored,
)
from localdev.stripe_bridge.invoices import InvoiceState
from localdev.stripe_bridge.prices import PriceState
from localdev.stripe_bridge.subscription_items import ItemChanges, SubscriptionItemState
from localdev.stripe_bridge.webhooks import Webhooks

_ENDED = ("canceled", "incomplete_expired")  # what a list without `status` leaves out


class Subscriptions:
    def __init__(
        self,
        upstream: Upstream,
        prices: PriceState,
        invoices: InvoiceState,
        items: SubscriptionItemState,
        webhooks: Webhooks,
    ) -> None:
        self._upstream = upstream
        self._prices = prices
        self._invoices = invoices
        self._items = items
        self._item_changes = ItemChanges(upstream, prices, items)
        self._webhooks = webhooks

    def routes(self) -> builtins.list[Route]:
        return [
            ("POST", "/v1/subscriptions", self.create),
            ("GET", "/v1/subscriptions", self.list),
            ("GET", "/v1/subscriptions/{id}", self.forward),
            ("POST", "/v1/subscriptions/{id}", self.update),
            ("DELETE", "/v1/subscriptions/{id}", self.forward),
            ("DELETE", "/v1/customers/{id}", self.delete_customer),
        ]

    async def create(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        for index, item in enumerate(params.get("items") or []):
            if isinstance(item, dict) and "price" in item:
                item["plan"] = stored(self._prices.by_id, "price", item.pop("price"), f"items[{index}][price]")["id"]
        if params.get("payment_behavior") == "default_incomplete":
            params["payment_behavior"] = "allow_incomplete"
        response = await self._upstream.forward(
            request, body=urlencode(flatten(params)).encode(), reshape=self._as_stripe_shows_it
        )
        if response.status == 200:
            self._webhooks.send_after_answer(
                self._announce_paid_invoice(json.loads(response.text or "{}"), api_key(request))
            )
        return response

    async def forward(self, request: web.Request) -> web.Response:
        return await self._upstream.forward(request, reshape=self._as_stripe_shows_it)

    async def list(self, request: web.Request) -> web.Response:
        """Gap 15: newest first, filtered by the status Stripe would show."""
        params = await request_params(request)
        reject_unknown(params, ("customer", "status", "limit", "starting_after"))
        shown = [
            self._as_stripe_shows_it(subscription)
            for subscription in await self._localstripe_subscriptions(api_key(request), params.get("customer"))
        ]
        shown = [subscription for subscription in shown if _listed(subscription["status"], params.get("status"))]
        shown.sort(key=lambda subscription: subscription["created"])  # stable: creation order within a second
        return web.json_response(paginate(shown, params, "/v1/subscriptions"))

    async def _localstripe_subscriptions(self, key: str, customer: str | None) -> builtins.list[dict[str, Any]]:
        """Every subscription localstripe holds (of `customer`), in its order (oldest first)."""
        subscriptions: builtins.list[dict[str, Any]] = []
        params: dict[str, Any] = {"status": "all", "limit": 100, **({"customer": customer} if customer else {})}
        while True:
            page = await self._upstream.call("GET", "/v1/subscriptions", key, params)
            subscriptions += page["data"]
            if not page.get("has_more") or not page["data"]:
                return subscriptions
            params["starting_after"] = page["data"][-1]["id"]

    async def delete_customer(self, request: web.Request) -> web.Response:
        """Gap 16: the customer's live subscriptions are canceled, then the customer is deleted."""
        key, customer = api_key(request), request.match_info["id"]
        try:
            subscriptions = await self._localstripe_subscriptions(key, customer)
        except StripeError as error:
            if error.status != 404:
                raise
            subscriptions = []  # no such customer: localstripe answers the delete with its own 404
        for subscription in subscriptions:
            if subscription["status"] not in _ENDED:
                await self._upstream.call("DELETE", f"/v1/subscriptions/{subscription['id']}", key)
        return await self._upstream.forward(request)

    async def update(self, request: web.Request) -> web.Response:
        """Gap 14: `items[]` and `cancel_at_period_end`, then `customer.subscription.updated`."""
        params = await request_params(request)
        changes, cancel_at_period_end = self._item_changes.check(params)
        key, path = api_key(request), f"/v1/subscriptions/{request.match_info['id']}"
        current = await self._upstream.call("GET", path, key)
        before = self._as_stripe_shows_it(copy.deepcopy(current))
        if before["status"] == "canceled" and (changes or cancel_at_period_end is not None):
            raise StripeError(400, "A canceled subscription can only update its metadata.")
        if changes:
            await self._item_changes.apply(current, changes, key)
        forwarded = {
            name: value
            for name, value in (("metadata", params.get("metadata")), ("cancel_at_period_end", cancel_at_period_end))
            if value is not None
        }
        after = (
            await self._upstream.call("POST", path, key, forwarded)
            if forwarded
            else await self._upstream.call("GET", path, key)
        )
        after = self._as_stripe_shows_it(after)
        previous = {
            name: before[name] for name in ("items", "cancel_at_period_end", "metadata") if before[name] != after[name]
        }
        if previous:
            self._webhooks.send_after_answer(
                self._webhooks.send_event("customer.subscription.updated", after, previous)
            )
        return web.json_response(after)

    async def _announce_paid_invoice(self, subscription: dict[str, Any], key: str) -> None:
        if not subscription.get("latest_invoice"):
            return
        invoice = await self._upstream.call("GET", f"/v1/invoices/{subscription['latest_invoice']}", key)
        if invoice.get("status") == "paid":
            invoice["parent"] = {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription.get("metadata") or {},
                },
            }
            await self._webhooks.send_event("invoice.paid", invoice)

    def _as_stripe_shows_it(self, payload: Any) -> Any:
        """Add `price` to each subscription item whose plan backs a bridge price, and show each
        subscription with the status the bridge's open invoices give it and its items."""
        if isinstance(payload, dict):
            if payload.get("object") == "subscription":
                self._items.shown(self._invoices.shown(payload))
            if payload.get("object") == "subscription_item" and isinstance(payload.get("plan"), dict):
                price = self._prices.by_id.get(payload["plan"].get("id"))
                if price is not None:
                    payload["price"] = dict(price)
            for value in payload.values():
                self._as_stripe_shows_it(value)
        elif isinstance(payload, list):
            for value in payload:
                self._as_stripe_shows_it(value)
        return payload


def _listed(status: str, wanted: str | None) -> bool:
    """Whether a subscription in `status` is listed for the `status` parameter `wanted` (gap 15)."""
    return status not in _ENDED if wanted is None else wanted in ("all", status)
