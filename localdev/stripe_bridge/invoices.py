"""Gap 10: localstripe cannot make a subscription `past_due` with an open invoice, nor filter
invoices by status, nor pay an invoice the way Stripe charges a saved card.

On Stripe, a subscription whose renewal invoice cannot be paid becomes `past_due` and the invoice
stays `open` (https://docs.stripe.com/billing/subscriptions/overview#payment-status). Stripe does
not retry it when no payment method was available, so an integration pays it once a card is added
(`POST /v1/invoices/{id}/pay`, https://docs.stripe.com/api/invoices/pay). The bridge holds such
invoices itself, in Stripe's invoice shape (API versions since 2025-03-31: the subscription under
`parent.subscription_details`):

- `POST /_bridge/subscriptions/{id}/past_due` `{"amount_due": 1250, "currency": "usd"}` (test and
  `make dev` hook): an OPEN invoice of that amount for the subscription, which then reads
  `past_due` everywhere (retrieve, list, events) until it owes nothing; delivers
  `invoice.payment_failed` then `customer.subscription.updated` (with `previous_attributes`), as
  Stripe does, and answers once they were delivered (`deliveries`). `next_payment_attempt` is
  null when the customer has no default payment method (Stripe will not retry), else in 3 days.
  On a subscription that has ENDED, the same hook is its final invoice failing: an open invoice
  and `invoice.payment_failed`, the subscription staying canceled (Stripe invoices the last
  period's metered usage when a subscription set to cancel at the period's end ends).
- `GET /v1/invoices` (`customer`, `subscription`, `status`, `limit`, `starting_after`): these
  invoices together with localstripe's own, newest first; `GET /v1/invoices/{id}` either kind.
- `POST /v1/invoices/{id}/pay` on a bridge invoice charges the customer's default payment method
  through a localstripe PaymentIntent, so localstripe's test cards decide: `pm_card_visa` pays;
  `pm_card_chargeCustomerFail` (4000 0000 0000 0341: "attaching this card to a Customer object
  succeeds, but attempts to charge the customer fail", https://docs.stripe.com/testing) is
  declined with Stripe's 402 `card_error` (`card_declined`, `decline_code` generic_decline) and
  `invoice.payment_failed`. Paid: `invoice.paid`, `invoice.payment_succeeded`, and, once the
  subscription owes nothing, `customer.subscription.updated` back to `active`, all sent after the
  answer (as Stripe's events come after the API answer). Any other invoice goes to localstripe.
"""

from __future__ import annotations

import builtins
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    api_key,
    as_int,
    new_id,
    paginate,
    reject_unknown,
    request_params,
)
from localdev.stripe_bridge.webhooks import Webhooks

PAST_DUE = "past_due"
RETRY_DELAY_SECONDS = 3 * 24 * 3600  # when a saved card will be tried again (Smart Retries pick their own time)
# Bridge hooks are not Stripe API calls and need no key; localstripe accepts any secret key.
HOOK_API_KEY = "sk_test_bridge_hook"
_LIST_PARAMS = ("customer", "subscription", "status", "limit", "starting_after")
_DECLINED = "Your card was declined."


@dataclass
class InvoiceState:
    """Bridge-held invoices (id -> invoice, in creation order), and the subscriptions they make
    `past_due` (subscription id -> its open bridge invoice ids)."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    owed: dict[str, list[str]] = field(default_factory=dict)
    number_prefix: str = field(default_factory=lambda: secrets.token_hex(4).upper())

    def shown(self, subscription: dict[str, Any]) -> dict[str, Any]:
        """A subscription as Stripe would show it: `past_due` while it owes a bridge invoice, unless
        localstripe already ended it (a canceled subscription stays canceled)."""
        owed = self.owed.get(subscription.get("id", ""))
        if owed and subscription.get("status") in ("active", "trialing"):
            subscription["status"] = PAST_DUE
            subscription["latest_invoice"] = owed[-1]
        return subscription


class Invoices:
    def __init__(self, upstream: Upstream, state: InvoiceState, webhooks: Webhooks) -> None:
        self._upstream = upstream
        self._state = state
        self._webhooks = webhooks

    def routes(self) -> builtins.list[Route]:
        return [
            ("POST", "/_bridge/subscriptions/{id}/past_due", self.make_past_due),
            ("GET", "/v1/invoices", self.list),
            ("GET", "/v1/invoices/{id}", self.retrieve),
            ("POST", "/v1/invoices/{id}/pay", self.pay),
        ]

    async def _subscription(self, subscription_id: str, key: str) -> dict[str, Any]:
        return self._state.shown(await self._upstream.call("GET", f"/v1/subscriptions/{subscription_id}", key))

    async def make_past_due(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        amount = as_int(body.get("amount_due"), "amount_due")
        if amount is None or amount <= 0:
            raise StripeError(
                400, 'Expected a JSON body {"amount_due": <cents, more than 0>, "currency": "usd"}.', param="amount_due"
            )
        key = api_key(request) or HOOK_API_KEY
        subscription = await self._subscription(request.match_info["id"], key)
        if subscription["status"] not in ("active", "trialing", PAST_DUE, "canceled"):
            raise StripeError(
                400,
                f"Subscription {subscription['id']} is {subscription['status']}: only a live or "
                "ended subscription can owe an invoice.",
            )
        previous_status = subscription["status"]
        customer = await self._upstream.call("GET", f"/v1/customers/{subscription['customer']}", key) or {}
        has_card = bool((customer.get("invoice_settings") or {}).get("default_payment_method"))
        invoice = self._open_invoice(subscription, amount, str(body.get("currency") or "usd").lower(), has_card)
        self._state.invoices[invoice["id"]] = invoice
        self._state.owed.setdefault(subscription["id"], []).append(invoice["id"])
        deliveries = await self._webhooks.send_event("invoice.payment_failed", dict(invoice))
        if previous_status not in (PAST_DUE, "canceled"):
            deliveries += await self._webhooks.send_event(
                "customer.subscription.updated", self._state.shown(dict(subscription)), {"status": previous_status}
            )
        return web.json_response(
            {
                "invoice": invoice,
                "subscription": self._state.shown(subscription),
                "deliveries": [vars(delivery) for delivery in deliveries],
            }
        )

    def _open_invoice(self, subscription: dict[str, Any], amount: int, currency: str, has_card: bool) -> dict[str, Any]:
        now = int(time.time())
        return {
            "id": new_id("in_"),
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": 0,
            "amount_remaining": amount,
            "attempt_count": 1,
            "attempted": True,
            "auto_advance": True,
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": now,
            "currency": currency,
            "customer": subscription["customer"],
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": now + RETRY_DELAY_SECONDS if has_card else None,
            "number": f"{self._state.number_prefix}-{len(self._state.invoices) + 1:04d}",
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription.get("metadata") or {},
                },
            },
            "period_start": subscription.get("current_period_start"),
            "period_end": subscription.get("current_period_end"),
            "status": "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": amount,
            "total": amount,
        }

    async def list(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, _LIST_PARAMS)
        key = api_key(request)
        filters = {name: params[name] for name in ("customer", "subscription") if params.get(name)}
        invoices = await self._localstripe_invoices(key, filters)
        invoices += [
            invoice
            for invoice in self._state.invoices.values()
            if all(
                _subscription_of(invoice) == value if name == "subscription" else invoice[name] == value
                for name, value in filters.items()
            )
        ]
        if params.get("status"):
            invoices = [invoice for invoice in invoices if invoice.get("status") == params["status"]]
        invoices.sort(key=lambda invoice: invoice.get("created") or 0)
        return web.json_response(paginate(invoices, params, "/v1/invoices"))

    async def _localstripe_invoices(self, key: str, filters: dict[str, str]) -> builtins.list[dict[str, Any]]:
        invoices: builtins.list[dict[str, Any]] = []
        params: dict[str, Any] = {**filters, "limit": 100}
        while True:
            page = await self._upstream.call("GET", "/v1/invoices", key, params)
            invoices += page["data"]
            if not page.get("has_more") or not page["data"]:
                return invoices
            params["starting_after"] = page["data"][-1]["id"]

    async def retrieve(self, request: web.Request) -> web.Response:
        invoice = self._state.invoices.get(request.match_info["id"])
        return web.json_response(invoice) if invoice else await self._upstream.forward(request)

    async def pay(self, request: web.Request) -> web.Response:
        invoice = self._state.invoices.get(request.match_info["id"])
        if invoice is None:
            return await self._upstream.forward(request)
        reject_unknown(await request_params(request), ())
        if invoice["status"] != "open":
            raise StripeError(400, f"Invoice is already {invoice['status']}.")
        key = api_key(request)
        customer = await self._upstream.call("GET", f"/v1/customers/{invoice['customer']}", key)
        payment_method = (customer.get("invoice_settings") or {}).get("default_payment_method")
        if not payment_method:
            raise StripeError(400, "This customer has no attached payment source or default payment method.")
        invoice["attempt_count"] += 1
        try:
            await self._upstream.call(
                "POST",
                "/v1/payment_intents",
                key,
                {
                    "amount": invoice["amount_remaining"],
                    "currency": invoice["currency"],
                    "customer": invoice["customer"],
                    "payment_method": payment_method,
                    "confirm": True,
                    "off_session": True,
                },
            )
        except StripeError as refused:
            if refused.status != 402:
                raise
            invoice["next_payment_attempt"] = None
            self._webhooks.send_after_answer(self._webhooks.send_event("invoice.payment_failed", dict(invoice)))
            # A response, not a raised error: Stripe saves a decline for its Idempotency-Key.
            return StripeError(
                402, _DECLINED, type_="card_error", code="card_declined", details={"decline_code": "generic_decline"}
            ).response()
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, next_payment_attempt=None)
        invoice["status_transitions"]["paid_at"] = int(time.time())
        # Settled before the answer: whoever re-reads the subscription next sees it active again.
        subscription_id = _subscription_of(invoice)
        assert subscription_id is not None  # only a subscription's invoices are owed here
        owed = self._state.owed.get(subscription_id, [])
        owed.remove(invoice["id"])
        if not owed:
            del self._state.owed[subscription_id]
        self._webhooks.send_after_answer(self._announce_paid(dict(invoice), subscription_id, not owed, key))
        return web.json_response(invoice)

    async def _announce_paid(self, invoice: dict[str, Any], subscription_id: str, settled: bool, key: str) -> None:
        await self._webhooks.send_event("invoice.paid", invoice)
        await self._webhooks.send_event("invoice.payment_succeeded", invoice)
        if settled:
            subscription = await self._subscription(subscription_id, key)
            if subscription["status"] in ("active", "trialing"):
                await self._webhooks.send_event("customer.subscription.updated", subscription, {"status": PAST_DUE})


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription") or invoice.get("subscription")
