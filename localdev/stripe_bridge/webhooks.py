"""Gap 8: localstripe has no `/v1/webhook_endpoints`; and the bridge's own events need delivering.

Endpoints (create, list, update; the `whsec_...` secret shown on create only) live in the bridge
and are registered with localstripe (`POST /_config/webhooks/<id>`), so localstripe's own events
(customer.subscription.created / deleted, invoice.payment_succeeded, ...) reach them signed with
the same secret, which `stripe.Webhook.construct_event` accepts.

The bridge signs its own events like Stripe (`t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<payload>")>`,
https://docs.stripe.com/webhooks#verify-manually) and delivers them to every endpoint subscribed
to the type. `send_event` waits for the answers (a test sees the effect right after);
`send_after_answer` sends once the API call that caused the event has been answered, as Stripe
does. `POST /_bridge/events` lets a test or `make dev` send any event (e.g. a subscription going
`past_due`, which localstripe cannot produce); `BridgeState.webhooks.deliveries` records each try.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    new_id,
    paginate,
    reject_unknown,
    request_params,
    require,
    stored,
)
from tollgate.contract import STRIPE_API_VERSION

WEBHOOK_DELIVERY_TIMEOUT_SECONDS = 10


@dataclass
class WebhookDelivery:
    """One attempt to deliver one bridge-sent event to one endpoint."""

    endpoint_id: str
    url: str
    event_id: str
    event_type: str
    status: int | None
    error: str | None = None


@dataclass
class WebhookState:
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    deliveries: list[WebhookDelivery] = field(default_factory=list)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header: t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<payload>")>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def _enabled_events(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


class Webhooks:
    """Webhook endpoints, and the delivery of the events the bridge itself sends."""

    def __init__(self, upstream: Upstream, state: WebhookState) -> None:
        self._upstream = upstream
        self._state = state
        self._background: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[Route]:
        return [
            ("POST", "/v1/webhook_endpoints", self.create_endpoint),
            ("GET", "/v1/webhook_endpoints", self.list_endpoints),
            ("POST", "/v1/webhook_endpoints/{id}", self.update_endpoint),
            ("POST", "/_bridge/events", self.post_event),
        ]

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def create_endpoint(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("url", "enabled_events", "description", "metadata", "api_version"))
        endpoint = {
            "id": new_id("we_"),
            "object": "webhook_endpoint",
            "api_version": params.get("api_version"),
            "application": None,
            "created": int(time.time()),
            "description": params.get("description"),
            "enabled_events": _enabled_events(require(params, "enabled_events")),
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "status": "enabled",
            "url": require(params, "url"),
        }
        secret = "whsec_" + secrets.token_hex(24)
        await self._register_with_localstripe(endpoint, secret)
        self._state.endpoints[endpoint["id"]] = endpoint
        self._state.secrets[endpoint["id"]] = secret
        return web.json_response({**endpoint, "secret": secret})

    async def update_endpoint(self, request: web.Request) -> web.Response:
        endpoint = stored(self._state.endpoints, "webhook endpoint", request.match_info["id"])
        params = await request_params(request)
        reject_unknown(params, ("url", "enabled_events", "description"))
        if "enabled_events" in params:
            endpoint["enabled_events"] = _enabled_events(params["enabled_events"])
        for name in ("url", "description"):
            if name in params:
                endpoint[name] = params[name]
        await self._register_with_localstripe(endpoint, self._state.secrets[endpoint["id"]])
        return web.json_response(endpoint)

    async def list_endpoints(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("limit", "starting_after"))
        return web.json_response(paginate(self._state.endpoints.values(), params, "/v1/webhook_endpoints"))

    async def _register_with_localstripe(self, endpoint: dict[str, Any], secret: str) -> None:
        """localstripe sends every event to an endpoint registered without an event list."""
        config: dict[str, Any] = {"url": endpoint["url"], "secret": secret}
        if "*" not in endpoint["enabled_events"]:
            config["events"] = endpoint["enabled_events"]
        await self._upstream.configure(f"/_config/webhooks/{endpoint['id']}", config)

    async def send_event(
        self, event_type: str, data_object: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> list[WebhookDelivery]:
        """Deliver a signed event to every endpoint subscribed to it; wait for the answers."""
        event: dict[str, Any] = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": STRIPE_API_VERSION,
            "created": int(time.time()),
            "data": {"object": data_object},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        targets = [
            e for e in self._state.endpoints.values() if "*" in e["enabled_events"] or event_type in e["enabled_events"]
        ]
        event["pending_webhooks"] = len(targets)
        payload = json.dumps(event).encode()
        deliveries = await asyncio.gather(*(self._deliver(endpoint, event, payload) for endpoint in targets))
        self._state.deliveries.extend(deliveries)
        return deliveries

    def send_after_answer(self, delivery: Awaitable[Any]) -> None:
        """Run an event-sending coroutine once the current API call has been answered."""
        task = asyncio.ensure_future(delivery)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _deliver(self, endpoint: dict[str, Any], event: dict[str, Any], payload: bytes) -> WebhookDelivery:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, self._state.secrets[endpoint["id"]]),
        }
        delivery = WebhookDelivery(endpoint["id"], endpoint["url"], event["id"], event["type"], None)
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_DELIVERY_TIMEOUT_SECONDS)
        try:
            async with self._upstream.session.post(
                endpoint["url"], data=payload, headers=headers, timeout=timeout
            ) as response:
                delivery.status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            delivery.error = f"{type(error).__name__}: {error}"
        return delivery

    async def post_event(self, request: web.Request) -> web.Response:
        """Test hook: `{"type": ..., "object": {...}, "previous_attributes": {...}}` → signed delivery."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("type") or not isinstance(body.get("object"), dict):
            raise StripeError(
                400,
                'Expected a JSON body {"type": "...", "object": {...}}, optionally with "previous_attributes": {...}.',
            )
        deliveries = await self.send_event(body["type"], body["object"], body.get("previous_attributes"))
        return web.json_response({"deliveries": [vars(d) for d in deliveries]})
