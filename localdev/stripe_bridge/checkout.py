"""Gap 7: localstripe has no Checkout.

`/v1/checkout/sessions` create, retrieve and list, in setup mode and in payment mode with inline
`line_items[][price_data]` (the modes Tollgate uses; others, and line items naming a `price`, are refused
by name). The session `url` is a page on the bridge, `GET /_bridge/checkout/<id>`:
a styled, script-free stand-in with a choice of test card, one "Complete" button and the cancel
link. Completing it (`POST /_bridge/checkout/<id>/complete`, `payment_method` one of TEST_CARDS,
`pm_card_visa` by default) does what Checkout does in setup mode
(https://docs.stripe.com/payments/save-and-reuse?platform=checkout): attaches the card to the
customer and creates and confirms a `seti_...` SetupIntent with it (it does NOT make the card the
customer's default: that is the webhook handler's job), then delivers a signed
`checkout.session.completed` before answering. In payment mode
(https://docs.stripe.com/api/checkout/sessions/object) completing attaches the card and pays the
session's total with a confirmed PaymentIntent on localstripe (`payment_intent` set, `payment_status`
`paid`), then sends the same event; a declined card answers Stripe's 402 and leaves the session open,
as Checkout keeps the customer on its page. The page's form asks for a 303 to `success_url`
(its `{CHECKOUT_SESSION_ID}` replaced, as Stripe does); a test posting without `redirect=true`
gets the session, card, SetupIntent and deliveries as JSON.
"""

from __future__ import annotations

import html
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    api_key,
    as_int,
    paginate,
    reject_unknown,
    request_params,
    require,
    stored,
)
from localdev.stripe_bridge.webhooks import Webhooks

PAGE_ASSETS = Path(__file__).with_name("checkout_page")
PAGE = string.Template((PAGE_ASSETS / "page.html").read_text())
# The page loads nothing but its stylesheet: no script, no inline style.
PAGE_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'"
SESSION_LIFETIME_SECONDS = 24 * 3600  # Stripe's default expires_at
# Stripe's test cards the page offers (https://docs.stripe.com/testing): both attach to a customer;
# the second declines every later charge (4000 0000 0000 0341), as a card that fails at renewal does.
TEST_CARDS = {
    "pm_card_visa": "Visa 4242 4242 4242 4242 (pays)",
    "pm_card_chargeCustomerFail": "Visa 4000 0000 0000 0341 (saved, then every charge is declined)",
}


@dataclass
class CheckoutState:
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # session id -> the key that created it
    items: dict[str, str] = field(default_factory=dict)  # payment session id -> its line item's name (the page's)


class Checkout:
    def __init__(self, upstream: Upstream, state: CheckoutState, webhooks: Webhooks) -> None:
        self._upstream = upstream
        self._state = state
        self._webhooks = webhooks

    def routes(self) -> list[Route]:
        return [
            ("POST", "/v1/checkout/sessions", self.create),
            ("GET", "/v1/checkout/sessions", self.list),
            ("GET", "/v1/checkout/sessions/{id}", self.retrieve),
            ("GET", "/_bridge/checkout/{id}", self.page),
            ("POST", "/_bridge/checkout/{id}/complete", self.complete),
            ("GET", "/_bridge/checkout.css", self.stylesheet),
            ("GET", "/favicon.ico", self.no_icon),
        ]

    async def create(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(
            params,
            (
                "mode",
                "customer",
                "success_url",
                "cancel_url",
                "currency",
                "metadata",
                "payment_method_types",
                "line_items",
                "allowed_payment_method_types",
            ),
        )  # the name since API 2026-10-28
        mode = require(params, "mode")
        if mode not in ("setup", "payment"):
            raise StripeError(
                400, f"The bridge emulates Checkout in setup and payment modes only, not `{mode}`.", param="mode"
            )
        method_types = params.get("allowed_payment_method_types") or params.get("payment_method_types")
        amounts, item = _payment_amounts(params) if mode == "payment" else ({}, "")
        if mode == "setup" and not params.get("currency") and not method_types:
            raise StripeError(
                400,
                "currency is required in setup mode when allowed_payment_method_types is not passed.",
                param="currency",
                code="parameter_missing",
            )
        key = api_key(request)
        customer = params.get("customer")
        if customer:
            await self._upstream.require_object("customer", "customers", customer, key, "customer")
        session_id = "cs_test_" + secrets.token_hex(16)
        created = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": None,
            "created": created,
            "currency": params.get("currency"),
            "customer": customer,
            "expires_at": created + SESSION_LIFETIME_SECONDS,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": method_types or ["card"],
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "setup_intent": None,
            "status": "open",
            "success_url": require(params, "success_url"),
            "url": f"{request.scheme}://{request.host}/_bridge/checkout/{session_id}",
            **amounts,
        }
        self._state.sessions[session_id] = session
        self._state.api_keys[session_id] = key
        self._state.items[session_id] = item
        return web.json_response(session)

    async def list(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("customer", "limit", "starting_after"))
        sessions = [s for s in self._state.sessions.values() if params.get("customer") in (None, s["customer"])]
        return web.json_response(paginate(sessions, params, "/v1/checkout/sessions"))

    async def retrieve(self, request: web.Request) -> web.Response:
        reject_unknown(await request_params(request), ())
        return web.json_response(self._session(request))

    def _session(self, request: web.Request) -> dict[str, Any]:
        return stored(self._state.sessions, "checkout.session", request.match_info["id"])

    async def page(self, request: web.Request) -> web.Response:
        session = self._session(request)
        is_open = session["status"] == "open"
        cancel = session["cancel_url"]
        paying = session["mode"] == "payment"
        total = f"{session.get('amount_total', 0) / 100:.2f} {str(session['currency']).upper()}" if paying else ""
        page = PAGE.substitute(
            heading="Pay" if paying else "Add a payment method",
            explainer=(
                f"Completing charges {html.escape(total)} to the test card, as Stripe Checkout in payment mode does."
                if paying
                else "Completing saves a test card for later invoices, as Stripe Checkout in "
                "setup mode does. Nothing is charged now."
            ),
            details=(
                f"<dt>Item</dt><dd>{html.escape(self._state.items[session['id']])}</dd><dt>Total</dt><dd>{html.escape(total)}</dd>"
                if paying
                else ""
            ),
            session_id=html.escape(session["id"]),
            customer=html.escape(session["customer"] or "none"),
            disabled="" if is_open else " disabled",
            cards="\n".join(
                f'<label class="card-choice"><input type="radio" name="payment_method" value="{card}"'
                f"{' checked' if index == 0 else ''}{'' if is_open else ' disabled'}> {html.escape(label)}</label>"
                for index, (card, label) in enumerate(TEST_CARDS.items())
            ),
            notice=""
            if is_open
            else (
                f'<p class="notice" role="status">This session is '
                f"{html.escape(session['status'])}: it cannot be completed again.</p>"
            ),
            cancel=f'<p class="cancel"><a href="{html.escape(cancel)}">Cancel and go back</a></p>' if cancel else "",
        )
        return web.Response(
            text=page, content_type="text/html", headers={"Content-Security-Policy": PAGE_SECURITY_POLICY}
        )

    async def stylesheet(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE_ASSETS / "checkout.css")

    async def no_icon(self, _request: web.Request) -> web.Response:
        """Browsers ask every origin for /favicon.ico; the answer is "none", not localstripe's 401."""
        return web.Response(status=204)

    async def complete(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session["status"] != "open":
            raise StripeError(400, f"Checkout session {session['id']} is {session['status']}, not open.")
        if not session["customer"]:
            raise StripeError(400, "The bridge completes setup sessions created with a customer only.")
        params = await request_params(request)
        redirect = params.get("redirect") == "true"
        test_card = params.get("payment_method") or "pm_card_visa"
        if test_card not in TEST_CARDS:
            raise StripeError(
                400,
                f"The stand-in Checkout saves one of {', '.join(TEST_CARDS)}, not {test_card}.",
                param="payment_method",
            )
        key = self._state.api_keys[session["id"]]
        payment_method = await self._upstream.call(
            "POST", f"/v1/payment_methods/{test_card}/attach", key, {"customer": session["customer"]}
        )
        if session["mode"] == "payment":
            # A decline raises Stripe's 402 card_declined here: the session stays open, as on Checkout's page.
            intent = await self._upstream.call(
                "POST",
                "/v1/payment_intents",
                key,
                {
                    "amount": session["amount_total"],
                    "currency": session["currency"],
                    "customer": session["customer"],
                    "payment_method": payment_method["id"],
                    "capture_method": "automatic",
                    "confirm": "true",
                },
            )
            session.update(status="complete", payment_intent=intent["id"], payment_status="paid", url=None)
            made = {"payment_intent": intent["id"]}
        else:
            setup_intent = await self._upstream.call(
                "POST", "/v1/setup_intents", key, {"customer": session["customer"], "usage": "off_session"}
            )
            setup_intent = await self._upstream.call(
                "POST", f"/v1/setup_intents/{setup_intent['id']}/confirm", key, {"payment_method": payment_method["id"]}
            )
            session.update(status="complete", setup_intent=setup_intent["id"], url=None)
            made = {"setup_intent": setup_intent["id"]}
        deliveries = await self._webhooks.send_event("checkout.session.completed", dict(session))
        if redirect:
            raise web.HTTPSeeOther(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
        return web.json_response(
            {
                "session": dict(session),
                "payment_method": payment_method["id"],
                **made,
                "deliveries": [vars(d) for d in deliveries],
            }
        )


def _payment_amounts(params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A payment session's currency and totals from its `line_items` (inline `price_data` only), and the
    item's name the page shows."""
    items = params.get("line_items")
    items = list(items.values()) if isinstance(items, dict) else items
    if not items:
        raise StripeError(400, "line_items is required in payment mode.", param="line_items", code="parameter_missing")
    if len(items) != 1 or not isinstance(items[0], dict) or not isinstance(items[0].get("price_data"), dict):
        raise StripeError(
            400, "The bridge emulates one line item with inline price_data, not prices by id.", param="line_items"
        )
    price = items[0]["price_data"]
    unit_amount, quantity = (
        as_int(price.get("unit_amount"), "unit_amount"),
        as_int(items[0].get("quantity"), "quantity"),
    )
    name = (price.get("product_data") or {}).get("name")
    if not price.get("currency") or not unit_amount or not quantity or not name:
        raise StripeError(
            400,
            "line_items[0] needs quantity and price_data with currency, unit_amount and product_data[name].",
            param="line_items",
            code="parameter_missing",
        )
    return {
        "currency": price["currency"],
        "amount_subtotal": unit_amount * quantity,
        "amount_total": unit_amount * quantity,
    }, str(name)
