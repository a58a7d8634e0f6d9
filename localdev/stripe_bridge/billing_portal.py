"""Gap 13: localstripe has no customer portal (`/v1/billing_portal/...`).

- Configurations (create, list, retrieve, update) in Stripe's shape: `features` as given, with
  Stripe's defaults for what is left out, `metadata`, `business_profile`, `default_return_url`,
  `active`, `is_default` (the first configuration of the account becomes the default, as the one a
  Stripe account saves in its dashboard is).
- Sessions (create): `customer` must exist; `configuration` names one, else the default is used,
  else Stripe's refusal is answered ("save your customer portal settings"). `url` is a page on the
  bridge, `GET /_bridge/portal/<id>`: a script-free stand-in (the Checkout page's stylesheet) showing
  the customer's default card, subscriptions and invoices from localstripe, a "Cancel subscription"
  form when the configuration allows cancelling, and the link back to `return_url`.
- Cancelling there (`POST /_bridge/portal/<id>/cancel`) cancels the subscription in localstripe,
  which delivers `customer.subscription.deleted` to the webhook endpoints, as Stripe does when a
  portal cancellation takes effect. The stand-in cancels at once whatever `subscription_cancel.mode`
  says (`at_period_end` would wait for the period to end, which a local run never reaches).
"""

from __future__ import annotations

import html
import string
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.checkout import PAGE_ASSETS, PAGE_SECURITY_POLICY
from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    api_key,
    as_bool,
    new_id,
    paginate,
    reject_unknown,
    request_params,
    require,
    stored,
)

PAGE = string.Template((PAGE_ASSETS / "portal.html").read_text())
_CONFIGURATION_PARAMS = ("business_profile", "default_return_url", "features", "metadata", "name", "login_page")
_DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "customer_update": {"enabled": False, "allowed_updates": []},
    "invoice_history": {"enabled": False},
    "payment_method_update": {"enabled": False, "payment_method_configuration": None},
    "subscription_cancel": {
        "enabled": False,
        "mode": "at_period_end",
        "proration_behavior": "none",
        "cancellation_reason": {"enabled": False, "options": []},
    },
    "subscription_update": {
        "enabled": False,
        "default_allowed_updates": [],
        "products": [],
        "proration_behavior": "none",
    },
}


@dataclass
class PortalState:
    configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # session id -> the key that created it


class BillingPortal:
    def __init__(self, upstream: Upstream, state: PortalState) -> None:
        self._upstream = upstream
        self._state = state

    def routes(self) -> list[Route]:
        return [
            ("POST", "/v1/billing_portal/configurations", self.create_configuration),
            ("GET", "/v1/billing_portal/configurations", self.list_configurations),
            ("GET", "/v1/billing_portal/configurations/{id}", self.retrieve_configuration),
            ("POST", "/v1/billing_portal/configurations/{id}", self.update_configuration),
            ("POST", "/v1/billing_portal/sessions", self.create_session),
            ("GET", "/_bridge/portal/{id}", self.page),
            ("POST", "/_bridge/portal/{id}/cancel", self.cancel),
        ]

    async def create_configuration(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, _CONFIGURATION_PARAMS)
        now = int(time.time())
        configuration: dict[str, Any] = {
            "id": new_id("bpc_"),
            "object": "billing_portal.configuration",
            "active": True,
            "application": None,
            "business_profile": {
                "headline": None,
                "privacy_policy_url": None,
                "terms_of_service_url": None,
                **(params.get("business_profile") or {}),
            },
            "created": now,
            "updated": now,
            "default_return_url": params.get("default_return_url"),
            "features": _features(require(params, "features")),
            "is_default": not self._state.configurations,
            "livemode": False,
            "login_page": {"enabled": False, "url": None},
            "metadata": params.get("metadata") or {},
            "name": params.get("name"),
        }
        self._state.configurations[configuration["id"]] = configuration
        return web.json_response(configuration)

    async def list_configurations(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("active", "is_default", "limit", "starting_after"))
        active, default = as_bool(params.get("active"), "active"), as_bool(params.get("is_default"), "is_default")
        listed = [
            c
            for c in self._state.configurations.values()
            if active in (None, c["active"]) and default in (None, c["is_default"])
        ]
        return web.json_response(paginate(listed, params, "/v1/billing_portal/configurations"))

    async def retrieve_configuration(self, request: web.Request) -> web.Response:
        return web.json_response(self._configuration(request.match_info["id"]))

    async def update_configuration(self, request: web.Request) -> web.Response:
        configuration = self._configuration(request.match_info["id"])
        params = await request_params(request)
        reject_unknown(params, (*_CONFIGURATION_PARAMS, "active"))
        if "features" in params:
            configuration["features"] = _features(params["features"], configuration["features"])
        if "active" in params:
            configuration["active"] = as_bool(params["active"], "active")
        for name in ("metadata", "default_return_url", "name"):
            if name in params:
                configuration[name] = params[name]
        if "business_profile" in params:
            configuration["business_profile"] = {**configuration["business_profile"], **params["business_profile"]}
        configuration["updated"] = int(time.time())
        return web.json_response(configuration)

    async def create_session(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("customer", "return_url", "configuration", "locale", "flow_data", "on_behalf_of"))
        customer, key = require(params, "customer"), api_key(request)
        await self._upstream.require_object("customer", "customers", customer, key, "customer")
        if params.get("configuration"):
            configuration = stored(
                self._state.configurations, "billing_portal.configuration", params["configuration"], "configuration"
            )
        else:
            default = next((c for c in self._state.configurations.values() if c["is_default"]), None)
            if default is None:
                raise StripeError(
                    400,
                    "You can't create a portal session in test mode until you save your customer "
                    "portal settings in test mode at https://dashboard.stripe.com/test/settings/"
                    "billing/portal.",
                )
            configuration = default
        session_id = new_id("bps_")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": configuration["id"],
            "created": int(time.time()),
            "customer": customer,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": params.get("return_url") or configuration["default_return_url"],
            "url": f"{request.scheme}://{request.host}/_bridge/portal/{session_id}",
        }
        self._state.sessions[session_id] = session
        self._state.api_keys[session_id] = key
        return web.json_response(session)

    async def page(self, request: web.Request) -> web.Response:
        session = stored(self._state.sessions, "billing_portal.session", request.match_info["id"])
        key, customer_id = self._state.api_keys[session["id"]], session["customer"]
        features = self._state.configurations[session["configuration"]]["features"]
        customer = await self._upstream.call("GET", f"/v1/customers/{customer_id}", key)
        subscriptions = (
            await self._upstream.call("GET", "/v1/subscriptions", key, {"customer": customer_id, "status": "all"})
        )["data"]
        invoices = (await self._upstream.call("GET", "/v1/invoices", key, {"customer": customer_id}))["data"]
        card = (customer.get("invoice_settings") or {}).get("default_payment_method")
        page = PAGE.substitute(
            customer=html.escape(f"{customer.get('email') or ''} ({customer_id})"),
            payment_method=html.escape(card) if card else "none saved",
            subscriptions=_rows(
                [
                    _subscription_row(session["id"], s, features["subscription_cancel"]["enabled"])
                    for s in subscriptions
                ],
                "No subscription.",
            ),
            invoices=_rows(
                [
                    f"{html.escape(i['id'])}: {i.get('amount_due', 0) / 100:.2f} "
                    f"{html.escape(str(i.get('currency', '')).upper())}, {html.escape(str(i.get('status')))}"
                    for i in invoices
                ],
                "No invoice yet.",
            )
            if features["invoice_history"]["enabled"]
            else "",
            return_link=(
                f'<p class="cancel"><a href="{html.escape(session["return_url"])}">Return to your account</a></p>'
                if session["return_url"]
                else ""
            ),
        )
        return web.Response(
            text=page, content_type="text/html", headers={"Content-Security-Policy": PAGE_SECURITY_POLICY}
        )

    async def cancel(self, request: web.Request) -> web.Response:
        session = stored(self._state.sessions, "billing_portal.session", request.match_info["id"])
        if not self._state.configurations[session["configuration"]]["features"]["subscription_cancel"]["enabled"]:
            raise StripeError(400, "This portal configuration does not allow cancelling subscriptions.")
        params = await request_params(request)
        key, subscription_id = self._state.api_keys[session["id"]], require(params, "subscription")
        subscription = await self._upstream.call("GET", f"/v1/subscriptions/{subscription_id}", key)
        if subscription["customer"] != session["customer"]:
            raise StripeError(404, f"No such subscription: '{subscription_id}'", code="resource_missing")
        await self._upstream.call("DELETE", f"/v1/subscriptions/{subscription_id}", key)
        raise web.HTTPSeeOther(f"/_bridge/portal/{session['id']}")

    def _configuration(self, configuration_id: str) -> dict[str, Any]:
        return stored(self._state.configurations, "billing_portal.configuration", configuration_id)


def _features(given: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stripe's full `features` object: what was given over what was there (or Stripe's defaults)."""
    base = current or _DEFAULT_FEATURES
    merged = {}
    for name, defaults in base.items():
        update = given.get(name) or {}
        merged[name] = {
            **defaults,
            **{k: as_bool(v, f"features[{name}][{k}]") if k == "enabled" else v for k, v in update.items()},
        }
    return merged


def _subscription_row(session_id: str, subscription: dict[str, Any], can_cancel: bool) -> str:
    text = f"{html.escape(subscription['id'])}: {html.escape(subscription['status'])}"
    if can_cancel and subscription["status"] not in ("canceled", "incomplete_expired"):
        text += (
            f'<form method="post" action="/_bridge/portal/{html.escape(session_id)}/cancel">'
            f'<input type="hidden" name="subscription" value="{html.escape(subscription["id"])}">'
            '<button type="submit">Cancel subscription</button></form>'
        )
    return text


def _rows(rows: list[str], empty: str) -> str:
    if not rows:
        return f"<p>{empty}</p>"
    return '<ul class="rows">' + "".join(f"<li>{row}</li>" for row in rows) + "</ul>"
