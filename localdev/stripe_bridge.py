"""TEST/DEV INFRASTRUCTURE ONLY: a reverse proxy in front of localstripe that fills its gaps.

Production code talks to real Stripe; in tests and `make dev` it talks to this bridge (through
TOLLGATE_STRIPE_API_BASE) and never knows the difference. Everything the bridge does not handle is
forwarded to localstripe unchanged. Nothing here is imported by lambda_src/ or infra/.

Gaps of localstripe 1.15.10 and how the bridge covers each (tests/localdev/test_stripe_bridge.py
has one test per gap, named after it):

1. Idempotency-Key is ignored (same key -> two customers). The bridge replays the first response
   byte-for-byte for the same key + method + path + parameters (24 h, scoped per API key, header
   `Idempotent-Replayed: true`), answers 400 `idempotency_error` when the key comes back with other
   parameters, and 409 `idempotency_error` while the first request is still in flight (as Stripe
   does; the SDK retries 409), so concurrent same-key requests never both reach localstripe.
   Like Stripe, 409/429/5xx answers are not saved.
2. No `/v1/prices`. Prices (create/retrieve/update/list with `lookup_keys[]`, `product`, `active`,
   `type`, `currency`, `recurring[...]` filters) live in the bridge. Each recurring price is backed
   by a localstripe plan WITH THE SAME ID (`price_...`), so subscriptions and invoices work.
3. No `items[].price` on subscriptions. The bridge rewrites `items[i][price]` to
   `items[i][plan]` (same id, see 2) and adds `price` to every subscription item it returns.
4. A metered plan is invoiced up front by localstripe (as if licensed, quantity 1), so creating a
   subscription needs a default payment method; real Stripe bills metered usage in arrears and the
   first invoice is $0. The backing plan of a metered price is therefore created with amount 0
   (localstripe cannot rate usage anyway), which reproduces Stripe's "$0 now, no payment method
   needed" without inventing a card. Licensed prices keep their amount and localstripe's own
   payment-method behaviour. `payment_behavior=default_incomplete` (localstripe knows only
   allow_incomplete/error_if_incomplete) is forwarded as `allow_incomplete`: for a $0 first
   invoice both give an active subscription.
5. No `/v1/billing/meters` nor `/v1/billing/meter_events`: stored in the bridge (meter
   create/retrieve/list/update/deactivate/reactivate; meter events validated against the active
   meter, de-duplicated by `identifier` for 24 h like Stripe). `bridge_state.meter_events` lets a
   test read what was reported (Stripe itself has no endpoint listing raw meter events).
6. No `/v1/products/search` nor `/v1/customers/search`: answered from localstripe's lists with the
   subset of Stripe's search query language used here (`field:'value'`, `metadata['k']:'v'`,
   joined with AND).
7. No Checkout. `/v1/checkout/sessions` create/retrieve/list/expire for `mode=setup`; the session
   `url` is a page on the bridge (`GET /_bridge/checkout/<id>`, one "complete" button). Completing
   it (`POST /_bridge/checkout/<id>/complete`) attaches a `pm_card_visa` card to the customer,
   creates and confirms a `seti_...` SetupIntent (as Checkout does; it does NOT make the card the
   default: that is the webhook handler's job) and delivers a signed `checkout.session.completed`.
8. No `/v1/webhook_endpoints`. Endpoints (create/list/retrieve/update/delete, `whsec_...` secret
   shown on create only) live in the bridge and are registered with localstripe
   (`POST /_config/webhooks/<id>`), so localstripe's own events (customer.subscription.created /
   deleted, invoice.payment_succeeded, ...) reach them, signed with the same secret; the test
   checks those signatures pass `stripe.Webhook.construct_event`. localstripe has no way to remove
   a webhook, so a deleted endpoint is re-registered with an empty event list.
   The bridge signs its own events (`t=<ts>,v1=<HMAC-SHA256(secret, "t.payload")>`) and delivers
   them before answering, so a test sees the effect of an event right after triggering it.
   `POST /_bridge/events` lets a test or `make dev` send any event (e.g. a subscription going
   `past_due`, which localstripe cannot produce).

9. localstripe emits no `customer.subscription.updated` and no `invoice.paid`. The bridge sends
   `customer.subscription.updated` (with `previous_attributes`) after a subscription update it
   forwarded, and `invoice.paid` (with `parent.subscription_details.subscription`, as current API
   versions shape it) when a new subscription's first invoice is paid. Like Stripe's, these go out
   after the API call has been answered.

Not bridged: usage is never rated into invoices; localstripe's own events carry `api_version`
2017-08-15 and no `price` on subscription items; statuses localstripe cannot reach (past_due,
unpaid, paused) exist only as events a test sends with `POST /_bridge/events`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web
from multidict import MultiDict

from tollgate.contract import STRIPE_API_VERSION

with warnings.catch_warnings():
    # Importing localstripe.server builds its app, whose sync handlers aiohttp flags as deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from localstripe.server import unflatten_data  # the exact form decoding localstripe applies

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
METER_EVENT_IDENTIFIER_TTL_SECONDS = 24 * 3600
WEBHOOK_DELIVERY_TIMEOUT_SECONDS = 10
UPSTREAM_TIMEOUT_SECONDS = 10
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- Stripe-shaped errors ------------------------------------------------------------------------


class StripeError(Exception):
    """Raised by a bridge handler; rendered as Stripe's error JSON."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type_, "message": message}
        if param:
            self.body["param"] = param
        if code:
            self.body["code"] = code

    def response(self) -> web.Response:
        return web.json_response({"error": self.body}, status=self.status)


def _missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def _stored(objects: dict[str, dict[str, Any]], kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
    """The bridge-held object with that id, or Stripe's 404 `resource_missing` naming `param`."""
    try:
        return objects[object_id]
    except KeyError:
        raise _missing(kind, object_id, param) from None


def _require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise StripeError(400, f"Missing required param: {name}.", param=name, code="parameter_missing")
    return value


def _reject_unknown(params: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(params) - set(allowed) - {"expand"})
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {unknown[0]}", param=unknown[0],
                          code="parameter_unknown")


def _as_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise StripeError(400, f"Invalid boolean: {value}", param=name)


def _as_int(value: Any, name: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=name) from None


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


# --- form encoding (what the stripe SDK sends for /v1) ---------------------------------------------


def _parse_form(raw: bytes | str) -> dict[str, Any]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return unflatten_data(MultiDict(parse_qsl(text, keep_blank_values=True)))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Inverse of _parse_form: Stripe's `a[b][0][c]=v` encoding."""
    if isinstance(value, dict):
        return [pair for key, item in value.items()
                for pair in _flatten(item, f"{prefix}[{key}]" if prefix else str(key))]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value) for pair in _flatten(item, f"{prefix}[{index}]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "" if value is None else str(value))]


def _paginate(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """Stripe list envelope; `items` newest first, as Stripe lists them."""
    limit = _as_int(params.get("limit"), "limit") or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    start = 0
    if params.get("starting_after"):
        ids = [item["id"] for item in items]
        if params["starting_after"] not in ids:
            raise _missing("object", params["starting_after"], "starting_after")
        start = ids.index(params["starting_after"]) + 1
    page = items[start:start + limit]
    return {"object": "list", "url": url, "has_more": start + limit < len(items), "data": page}


# --- state ------------------------------------------------------------------------------------------


@dataclass
class _SavedResponse:
    fingerprint: tuple[str, str, Any]
    status: int
    body: bytes
    content_type: str
    saved_at: float


@dataclass
class WebhookDelivery:
    """One attempt to deliver one event to one endpoint (bridge-sent events only)."""

    endpoint_id: str
    url: str
    event_id: str
    event_type: str
    status: int | None
    error: str | None = None


@dataclass
class BridgeState:
    """Everything the bridge stores; in memory, fresh for each bridge."""

    idempotent_responses: dict[tuple[str, str], _SavedResponse] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: list[dict[str, Any]] = field(default_factory=list)
    meter_event_identifiers: dict[str, float] = field(default_factory=dict)
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkout_api_keys: dict[str, str] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    deliveries: list[WebhookDelivery] = field(default_factory=list)


def _newest_first(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stripe lists newest first; the state dicts keep creation order."""
    return list(reversed(list(objects)))


# --- the app ----------------------------------------------------------------------------------------


class Bridge:
    """Route handlers; one instance per app, holding the upstream client and the state."""

    def __init__(self, upstream_url: str, state: BridgeState) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ---- plumbing ----

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_SECONDS))
        return self._session

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def upstream(self, method: str, path: str, api_key: str,
                       params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call localstripe; its errors are re-raised as Stripe errors for the bridge's caller."""
        headers = {"Authorization": f"Bearer {api_key}"}
        encoded = urlencode(_flatten(params or {}))
        kwargs: dict[str, Any] = {"params": encoded} if method in ("GET", "DELETE") else {
            "data": encoded, "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"}}
        kwargs.setdefault("headers", headers)
        async with self.session.request(method, self.upstream_url + path, **kwargs) as response:
            payload = await response.json(content_type=None)
            if response.status >= 400:
                error = payload.get("error", {}) if isinstance(payload, dict) else {}
                raise StripeError(response.status, error.get("message", f"localstripe answered {response.status}"),
                                  param=error.get("param"), code=error.get("code"))
            return payload

    async def forward(self, request: web.Request, body: bytes | None = None,
                      reshape: Callable[[Any], Any] | None = None) -> web.Response:
        """Send the request on to localstripe as-is (or with a rewritten body)."""
        data = await request.read() if body is None else body
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        async with self.session.request(request.method, self.upstream_url + request.path_qs,
                                        data=data or None, headers=headers) as upstream:
            payload = await upstream.read()
            content_type = upstream.headers.get("Content-Type", "application/json")
            if reshape is not None and upstream.status < 400:
                payload = json.dumps(reshape(json.loads(payload)), indent=2, sort_keys=True).encode() + b"\n"
            return web.Response(status=upstream.status, body=payload,
                                headers={"Content-Type": content_type})

    @staticmethod
    async def params(request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return unflatten_data(request.query)
        return _parse_form(await request.read())

    # ---- 1. idempotency ----

    @web.middleware
    async def idempotency(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        scope = (request.headers.get("Authorization", ""), key)
        fingerprint = (request.method, request.path_qs, sorted(parse_qsl((await request.read()).decode(),
                                                                          keep_blank_values=True)))
        now = time.time()
        for expired in [k for k, saved in self.state.idempotent_responses.items()
                        if now - saved.saved_at > IDEMPOTENCY_TTL_SECONDS]:
            del self.state.idempotent_responses[expired]
        saved = self.state.idempotent_responses.get(scope)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                raise StripeError(
                    400, "Keys for idempotent requests can only be used with the same parameters they were "
                         f"first used with. Try using a key other than '{key}' if you meant to execute a "
                         "different request.", type_="idempotency_error")
            return web.Response(status=saved.status, body=saved.body, headers={
                "Content-Type": saved.content_type, "Idempotent-Replayed": "true", "Idempotency-Key": key})
        if scope in self.state.in_flight:
            raise StripeError(
                409, "There is currently another in-progress request using this Idempotent Key (that probably "
                     f"means you submitted twice, and the other request is still going through): {key}. "
                     "Please try again later.", type_="idempotency_error")
        self.state.in_flight.add(scope)
        try:
            response = await handler(request)
        finally:
            self.state.in_flight.discard(scope)
        if isinstance(response, web.Response) and response.status not in (409, 429) and response.status < 500:
            self.state.idempotent_responses[scope] = _SavedResponse(
                fingerprint, response.status, response.body or b"", response.content_type, now)
            response.headers["Idempotency-Key"] = key
        return response

    @web.middleware
    async def errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except StripeError as error:
            return error.response()

    @web.middleware
    async def authentication(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bridge-served /v1 routes need a secret key like localstripe's (forwarded ones are checked there)."""
        if request.path.startswith("/v1/") and not _api_key(request):
            raise StripeError(401, "You did not provide an API key.")
        return await handler(request)

    # ---- 2. prices ----

    async def create_price(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("currency", "product", "product_data", "unit_amount", "unit_amount_decimal",
                                 "recurring", "billing_scheme", "tiers", "tiers_mode", "transform_quantity",
                                 "lookup_key", "transfer_lookup_key", "metadata", "nickname", "active",
                                 "tax_behavior"))
        api_key = _api_key(request)
        price = self._validated_price(params)
        if params.get("product_data"):
            product_data = params["product_data"]
            _require(product_data, "name")
            price["product"] = (await self.upstream("POST", "/v1/products", api_key, product_data))["id"]
        else:
            price["product"] = _require(params, "product")
            await self.upstream("GET", f"/v1/products/{price['product']}", api_key)
        if price["recurring"]:
            await self.upstream("POST", "/v1/plans", api_key, _backing_plan(price))
        self._claim_lookup_key(price, _as_bool(params.get("transfer_lookup_key"), "transfer_lookup_key"))
        self.state.prices[price["id"]] = price
        return await self._price_response(request, price)

    def _validated_price(self, params: dict[str, Any]) -> dict[str, Any]:
        currency = str(_require(params, "currency")).lower()
        billing_scheme = params.get("billing_scheme", "per_unit")
        if billing_scheme not in ("per_unit", "tiered"):
            raise StripeError(400, f"Invalid billing_scheme: {billing_scheme}", param="billing_scheme")
        unit_amount = _as_int(params.get("unit_amount"), "unit_amount")
        unit_amount_decimal = params.get("unit_amount_decimal")
        if unit_amount is not None and unit_amount_decimal is not None:
            raise StripeError(400, "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
                              param="unit_amount")
        if unit_amount_decimal is not None:
            try:
                float(unit_amount_decimal)
            except ValueError:
                raise StripeError(400, f"Invalid decimal: {unit_amount_decimal}", param="unit_amount_decimal") from None
        tiers, tiers_mode = params.get("tiers"), params.get("tiers_mode")
        if billing_scheme == "per_unit":
            if unit_amount is None and unit_amount_decimal is None:
                raise StripeError(400, "Missing required param: unit_amount.", param="unit_amount",
                                  code="parameter_missing")
            if tiers or tiers_mode:
                raise StripeError(400, "Tiers can only be used with billing_scheme=tiered.", param="tiers")
        else:
            if tiers_mode not in ("graduated", "volume"):
                raise StripeError(400, "Missing required param: tiers_mode (graduated or volume).", param="tiers_mode")
            tiers = _validated_tiers(tiers)
            if unit_amount is not None or unit_amount_decimal is not None:
                raise StripeError(400, "unit_amount cannot be used with billing_scheme=tiered.", param="unit_amount")
            if params.get("transform_quantity"):
                raise StripeError(400, "transform_quantity cannot be used with billing_scheme=tiered.",
                                  param="transform_quantity")
        recurring = self._validated_recurring(params.get("recurring"))
        if unit_amount is not None:
            unit_amount_decimal = str(unit_amount)
        elif unit_amount_decimal is not None and float(unit_amount_decimal).is_integer():
            unit_amount = int(float(unit_amount_decimal))
        return {
            "id": _new_id("price_"),
            "object": "price",
            "active": _as_bool(params.get("active", True), "active"),
            "billing_scheme": billing_scheme,
            "created": int(time.time()),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": params.get("lookup_key") or None,
            "metadata": params.get("metadata") or {},
            "nickname": params.get("nickname"),
            "product": None,
            "recurring": recurring,
            "tax_behavior": params.get("tax_behavior", "unspecified"),
            "tiers": tiers,
            "tiers_mode": tiers_mode,
            "transform_quantity": _validated_transform_quantity(params.get("transform_quantity")),
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount_decimal,
        }

    def _validated_recurring(self, recurring: Any) -> dict[str, Any] | None:
        if not recurring:
            return None
        interval = recurring.get("interval")
        if interval not in ("day", "week", "month", "year"):
            raise StripeError(400, "Missing or invalid recurring[interval] (day, week, month or year).",
                              param="recurring[interval]")
        usage_type = recurring.get("usage_type", "licensed")
        if usage_type not in ("licensed", "metered"):
            raise StripeError(400, f"Invalid recurring[usage_type]: {usage_type}", param="recurring[usage_type]")
        meter = recurring.get("meter")
        if usage_type == "metered":
            if not meter:
                raise StripeError(400, "Metered prices must be backed by a meter: pass recurring[meter].",
                                  param="recurring[meter]", code="parameter_missing")
            if meter not in self.state.meters:
                raise _missing("billing meter", meter, "recurring[meter]")
        elif meter:
            raise StripeError(400, "recurring[meter] can only be used with recurring[usage_type]=metered.",
                              param="recurring[meter]")
        return {"aggregate_usage": None, "interval": interval,
                "interval_count": _as_int(recurring.get("interval_count", 1), "recurring[interval_count]"),
                "meter": meter, "trial_period_days": None, "usage_type": usage_type}

    def _claim_lookup_key(self, price: dict[str, Any], transfer: bool | None) -> None:
        if not price["lookup_key"]:
            return
        holder = next((other for other in self.state.prices.values()
                       if other["lookup_key"] == price["lookup_key"] and other["id"] != price["id"]), None)
        if holder is None:
            return
        if not transfer:
            raise StripeError(400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
        holder["lookup_key"] = None

    async def retrieve_price(self, request: web.Request) -> web.Response:
        return await self._price_response(request, self._price(request.match_info["id"]))

    def _price(self, price_id: str, param: str = "id") -> dict[str, Any]:
        return _stored(self.state.prices, "price", price_id, param)

    async def update_price(self, request: web.Request) -> web.Response:
        price = self._price(request.match_info["id"])
        params = await self.params(request)
        _reject_unknown(params, ("active", "lookup_key", "transfer_lookup_key", "metadata", "nickname",
                                 "tax_behavior"))
        candidate = {**price, "lookup_key": params.get("lookup_key", price["lookup_key"]) or None}
        self._claim_lookup_key(candidate, _as_bool(params.get("transfer_lookup_key"), "transfer_lookup_key"))
        price["lookup_key"] = candidate["lookup_key"]
        if "active" in params:
            price["active"] = _as_bool(params["active"], "active")
        if "nickname" in params:
            price["nickname"] = params["nickname"] or None
        if "tax_behavior" in params:
            price["tax_behavior"] = params["tax_behavior"]
        if "metadata" in params:
            price["metadata"] = _merged_metadata(price["metadata"], params["metadata"])
        return await self._price_response(request, price)

    async def list_prices(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("active", "currency", "lookup_keys", "product", "recurring", "type", "limit",
                                 "starting_after", "ending_before", "created"))
        prices = list(self.state.prices.values())
        if "active" in params:
            active = _as_bool(params["active"], "active")
            prices = [p for p in prices if p["active"] == active]
        for name in ("currency", "product", "type"):
            if name in params:
                prices = [p for p in prices if p[name] == params[name]]
        if "lookup_keys" in params:
            wanted = params["lookup_keys"] if isinstance(params["lookup_keys"], list) else [params["lookup_keys"]]
            prices = [p for p in prices if p["lookup_key"] in wanted]
        for name, value in (params.get("recurring") or {}).items():
            prices = [p for p in prices if p["recurring"] and p["recurring"].get(name) == value]
        page = _paginate(_newest_first(prices), params, "/v1/prices")
        expand = _expand_list(params)
        page["data"] = [await self._expanded_price(p, expand, _api_key(request), prefix="data.") for p in page["data"]]
        return web.json_response(page)

    async def _price_response(self, request: web.Request, price: dict[str, Any]) -> web.Response:
        expand = _expand_list(await self.params(request))
        return web.json_response(await self._expanded_price(price, expand, _api_key(request)))

    async def _expanded_price(self, price: dict[str, Any], expand: list[str], api_key: str,
                              prefix: str = "") -> dict[str, Any]:
        if f"{prefix}product" not in expand:
            return dict(price)
        product = await self.upstream("GET", f"/v1/products/{price['product']}", api_key)
        return {**price, "product": product}

    # ---- 3 + 4. subscriptions ----

    async def create_subscription(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        for index, item in enumerate(params.get("items") or []):
            if isinstance(item, dict) and "price" in item:
                price_id = item.pop("price")
                if not self._price(price_id, f"items[{index}][price]")["recurring"]:
                    raise StripeError(400, f"The price `{price_id}` is not recurring.", param=f"items[{index}][price]")
                item["plan"] = price_id
        if params.get("payment_behavior") == "default_incomplete":
            params["payment_behavior"] = "allow_incomplete"
        response = await self.forward(request, body=urlencode(_flatten(params)).encode(),
                                      reshape=self._with_item_prices)
        if response.status == 200:
            self._send_later(self._announce_paid_invoice(json.loads(response.body), _api_key(request)))
        return response

    async def update_subscription(self, request: web.Request) -> web.Response:
        """Forwarded; then `customer.subscription.updated` with previous_attributes (gap 9)."""
        before = await self.upstream("GET", f"/v1/subscriptions/{request.match_info['id']}", _api_key(request))
        response = await self.forward(request, reshape=self._with_item_prices)
        if response.status == 200:
            after = json.loads(response.body)
            previous = {name: before[name] for name in after
                        if name in before and name != "items" and before[name] != after[name]}
            if previous:
                self._send_later(self.send_event("customer.subscription.updated", after, previous))
        return response

    async def forward_subscription(self, request: web.Request) -> web.Response:
        return await self.forward(request, reshape=self._with_item_prices)

    async def _announce_paid_invoice(self, subscription: dict[str, Any], api_key: str) -> None:
        """localstripe pays the first invoice but only says `invoice.payment_succeeded`; Stripe also sends `invoice.paid`."""
        if not subscription.get("latest_invoice"):
            return
        invoice = await self.upstream("GET", f"/v1/invoices/{subscription['latest_invoice']}", api_key)
        if invoice.get("status") == "paid":
            # Current API versions name the subscription under parent.subscription_details.
            invoice["parent"] = {"type": "subscription_details", "quote_details": None,
                                 "subscription_details": {"subscription": subscription["id"],
                                                          "metadata": subscription.get("metadata") or {}}}
            await self.send_event("invoice.paid", invoice)

    def _send_later(self, delivery: Awaitable[Any]) -> None:
        """Side-effect events go out after the answer, like Stripe's (the caller never waits on its webhook)."""
        task = asyncio.ensure_future(delivery)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _with_item_prices(self, payload: Any) -> Any:
        """Add `price` to each subscription item whose plan backs a bridge price."""
        if isinstance(payload, dict):
            if payload.get("object") == "subscription_item" and isinstance(payload.get("plan"), dict):
                price = self.state.prices.get(payload["plan"].get("id"))
                if price is not None:
                    payload["price"] = dict(price)
            for value in payload.values():
                self._with_item_prices(value)
        elif isinstance(payload, list):
            for value in payload:
                self._with_item_prices(value)
        return payload

    # ---- 5. billing meters and meter events ----

    async def create_meter(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("display_name", "event_name", "default_aggregation", "customer_mapping",
                                 "value_settings", "event_time_window"))
        display_name = _require(params, "display_name")
        event_name = _require(params, "event_name")
        formula = (params.get("default_aggregation") or {}).get("formula")
        if formula not in ("sum", "count", "last"):
            raise StripeError(400, "Missing or invalid default_aggregation[formula] (sum, count or last).",
                              param="default_aggregation[formula]")
        if any(m["event_name"] == event_name and m["status"] == "active" for m in self.state.meters.values()):
            raise StripeError(400, f"An active meter with event_name `{event_name}` already exists.",
                              param="event_name")
        mapping = params.get("customer_mapping") or {}
        if mapping.get("type", "by_id") != "by_id":
            raise StripeError(400, "customer_mapping[type] must be by_id.", param="customer_mapping[type]")
        created = int(time.time())
        meter = {
            "id": _new_id("mtr_"),
            "object": "billing.meter",
            "created": created,
            "customer_mapping": {"event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
                                 "type": "by_id"},
            "default_aggregation": {"formula": formula},
            "display_name": display_name,
            "event_name": event_name,
            "event_time_window": params.get("event_time_window"),
            "livemode": False,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": created,
            "value_settings": {"event_payload_key": (params.get("value_settings") or {}).get("event_payload_key",
                                                                                               "value")},
        }
        self.state.meters[meter["id"]] = meter
        return web.json_response(meter)

    def _meter(self, meter_id: str) -> dict[str, Any]:
        return _stored(self.state.meters, "billing meter", meter_id)

    async def retrieve_meter(self, request: web.Request) -> web.Response:
        return web.json_response(self._meter(request.match_info["id"]))

    async def update_meter(self, request: web.Request) -> web.Response:
        meter = self._meter(request.match_info["id"])
        params = await self.params(request)
        _reject_unknown(params, ("display_name",))
        meter.update(display_name=params.get("display_name", meter["display_name"]), updated=int(time.time()))
        return web.json_response(meter)

    async def set_meter_status(self, request: web.Request) -> web.Response:
        meter = self._meter(request.match_info["id"])
        active = request.match_info["action"] == "reactivate"
        meter.update(status="active" if active else "inactive", updated=int(time.time()),
                     status_transitions={"deactivated_at": None if active else int(time.time())})
        return web.json_response(meter)

    async def list_meters(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("status", "limit", "starting_after", "ending_before"))
        meters = [m for m in self.state.meters.values() if params.get("status") in (None, m["status"])]
        return web.json_response(_paginate(_newest_first(meters), params, "/v1/billing/meters"))

    async def create_meter_event(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("event_name", "payload", "identifier", "timestamp"))
        event_name = _require(params, "event_name")
        payload = _require(params, "payload")
        meter = next((m for m in self.state.meters.values()
                      if m["event_name"] == event_name and m["status"] == "active"), None)
        if meter is None:
            raise StripeError(400, f"No active meter was found for event_name `{event_name}`.", param="event_name",
                              code="resource_missing")
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        if not payload.get(customer_key):
            raise StripeError(400, f"Missing required param: payload[{customer_key}].", param=f"payload[{customer_key}]")
        value = payload.get(value_key, "1" if meter["default_aggregation"]["formula"] == "count" else None)
        if value is None or not re.fullmatch(r"-?\d+(\.\d+)?", str(value)):
            raise StripeError(400, f"payload[{value_key}] must be a number.", param=f"payload[{value_key}]")
        now = time.time()
        identifiers = self.state.meter_event_identifiers
        for expired in [i for i, seen in identifiers.items() if now - seen > METER_EVENT_IDENTIFIER_TTL_SECONDS]:
            del identifiers[expired]
        identifier = params.get("identifier") or _new_id("mev_")
        if identifier in identifiers:
            raise StripeError(400, f"An event already exists with identifier {identifier}.", param="identifier",
                              code="duplicate_meter_event")
        identifiers[identifier] = now
        event = {"object": "billing.meter_event", "created": int(time.time()), "event_name": event_name,
                 "identifier": identifier, "livemode": False, "payload": payload,
                 "timestamp": _as_int(params.get("timestamp"), "timestamp") or int(now)}
        self.state.meter_events.append(event)
        return web.json_response(event)

    # ---- 6. search ----

    async def search(self, request: web.Request) -> web.Response:
        resource = request.match_info["resource"]
        params = await self.params(request)
        _reject_unknown(params, ("query", "limit", "page"))
        conditions = _parse_search_query(_require(params, "query"))
        found = [obj for obj in await self._list_all_upstream(f"/v1/{resource}", _api_key(request))
                 if all(_matches(obj, path, value) for path, value in conditions)]
        limit = _as_int(params.get("limit"), "limit") or 10
        return web.json_response({"object": "search_result", "url": f"/v1/{resource}/search", "has_more":
                                  len(found) > limit, "next_page": None, "data": found[:limit]})

    async def _list_all_upstream(self, path: str, api_key: str) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self.upstream("GET", path, api_key, params)
            objects.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return objects
            params["starting_after"] = page["data"][-1]["id"]

    # ---- 7. checkout ----

    async def create_checkout_session(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("mode", "customer", "success_url", "cancel_url", "currency", "payment_method_types",
                                 "allowed_payment_method_types",  # the name since API 2026-10-28
                                 "metadata", "client_reference_id", "setup_intent_data", "locale"))
        mode = _require(params, "mode")
        if mode != "setup":
            raise StripeError(400, f"The bridge emulates Checkout in setup mode only, not `{mode}`.", param="mode")
        success_url = _require(params, "success_url")
        method_types = params.get("allowed_payment_method_types") or params.get("payment_method_types")
        if not params.get("currency") and not method_types:
            raise StripeError(400, "currency is required in setup mode when allowed_payment_method_types is not passed.",
                              param="currency", code="parameter_missing")
        customer = params.get("customer")
        api_key = _api_key(request)
        if customer:
            await self.upstream("GET", f"/v1/customers/{customer}", api_key)
        session_id = "cs_test_" + secrets.token_hex(16)
        created = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": created,
            "currency": params.get("currency"),
            "customer": customer,
            "expires_at": created + 24 * 3600,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "setup",
            "payment_method_types": method_types or ["card"],
            "payment_status": "no_payment_required",
            "setup_intent": None,
            "status": "open",
            "success_url": success_url,
            "url": f"{request.scheme}://{request.host}/_bridge/checkout/{session_id}",
        }
        self.state.checkout_sessions[session_id] = session
        self.state.checkout_api_keys[session_id] = api_key
        return web.json_response(session)

    def _checkout_session(self, session_id: str) -> dict[str, Any]:
        return _stored(self.state.checkout_sessions, "checkout.session", session_id)

    async def retrieve_checkout_session(self, request: web.Request) -> web.Response:
        session = dict(self._checkout_session(request.match_info["id"]))
        expand = _expand_list(await self.params(request))
        if "setup_intent" in expand and session["setup_intent"]:
            session["setup_intent"] = await self.upstream("GET", f"/v1/setup_intents/{session['setup_intent']}",
                                                          _api_key(request))
        return web.json_response(session)

    async def list_checkout_sessions(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("customer", "setup_intent", "status", "limit", "starting_after", "ending_before"))
        sessions = [s for s in self.state.checkout_sessions.values()
                    if all(params.get(name) in (None, s[name]) for name in ("customer", "setup_intent", "status"))]
        return web.json_response(_paginate(_newest_first(sessions), params, "/v1/checkout/sessions"))

    async def expire_checkout_session(self, request: web.Request) -> web.Response:
        session = self._checkout_session(request.match_info["id"])
        if session["status"] != "open":
            raise StripeError(400, f"Only open sessions can be expired; this one is {session['status']}.")
        session.update(status="expired", url=None)
        return web.json_response(session)

    async def checkout_page(self, request: web.Request) -> web.Response:
        session = self._checkout_session(request.match_info["id"])
        session_id = html.escape(session["id"])
        cancel = (f'<p><a href="{html.escape(session["cancel_url"])}">Cancel</a></p>'
                  if session["cancel_url"] else "")
        state = ("" if session["status"] == "open"
                 else f"<p>This session is {html.escape(session['status'])}.</p>")
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test Checkout (local Stripe bridge)</title></head>
<body><main><h1>Test Checkout</h1>
<p>Local stand-in for Stripe Checkout (setup mode). Completing saves the test card 4242 4242 4242 4242
for customer <code>{html.escape(session["customer"] or "")}</code>.</p>{state}
<form method="post" action="/_bridge/checkout/{session_id}/complete">
<input type="hidden" name="redirect" value="true">
<button type="submit"{"" if session["status"] == "open" else " disabled"}>Complete</button></form>
{cancel}</main></body></html>"""
        return web.Response(text=page, content_type="text/html")

    async def complete_checkout(self, request: web.Request) -> web.Response:
        session = self._checkout_session(request.match_info["id"])
        if session["status"] != "open":
            raise StripeError(400, f"Checkout session {session['id']} is {session['status']}, not open.")
        if not session["customer"]:
            raise StripeError(400, "The bridge completes setup sessions created with a customer only.")
        api_key = self.state.checkout_api_keys[session["id"]]
        payment_method = await self.upstream("POST", "/v1/payment_methods/pm_card_visa/attach", api_key,
                                             {"customer": session["customer"]})
        setup_intent = await self.upstream("POST", "/v1/setup_intents", api_key, {
            "customer": session["customer"], "usage": "off_session",
            "metadata": ((await self.params(request)).get("setup_intent_metadata") or {})})
        setup_intent = await self.upstream("POST", f"/v1/setup_intents/{setup_intent['id']}/confirm", api_key,
                                           {"payment_method": payment_method["id"]})
        session.update(status="complete", setup_intent=setup_intent["id"], url=None)
        deliveries = await self.send_event("checkout.session.completed", dict(session))
        if (await self.params(request)).get("redirect") == "true":
            raise web.HTTPSeeOther(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
        return web.json_response({"session": session, "payment_method": payment_method["id"],
                                  "setup_intent": setup_intent["id"],
                                  "deliveries": [vars(d) for d in deliveries]})

    # ---- 8. webhook endpoints and events ----

    async def create_webhook_endpoint(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("url", "enabled_events", "description", "metadata", "api_version", "connect"))
        url = _require(params, "url")
        if not str(url).startswith(("http://", "https://")):
            raise StripeError(400, f"Invalid URL: {url}", param="url")
        endpoint = {
            "id": _new_id("we_"),
            "object": "webhook_endpoint",
            "api_version": params.get("api_version"),
            "application": None,
            "created": int(time.time()),
            "description": params.get("description"),
            "enabled_events": _enabled_events(_require(params, "enabled_events")),
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "status": "enabled",
            "url": url,
        }
        secret = "whsec_" + secrets.token_hex(24)
        await self._register_with_localstripe(endpoint, secret)
        self.state.webhook_endpoints[endpoint["id"]] = endpoint
        self.state.webhook_secrets[endpoint["id"]] = secret
        return web.json_response({**endpoint, "secret": secret})

    def _endpoint(self, endpoint_id: str) -> dict[str, Any]:
        return _stored(self.state.webhook_endpoints, "webhook endpoint", endpoint_id)

    async def retrieve_webhook_endpoint(self, request: web.Request) -> web.Response:
        return web.json_response(self._endpoint(request.match_info["id"]))

    async def update_webhook_endpoint(self, request: web.Request) -> web.Response:
        endpoint = self._endpoint(request.match_info["id"])
        params = await self.params(request)
        _reject_unknown(params, ("url", "enabled_events", "description", "metadata", "disabled"))
        if "enabled_events" in params:
            endpoint["enabled_events"] = _enabled_events(params["enabled_events"])
        for name in ("url", "description"):
            if name in params:
                endpoint[name] = params[name]
        if "metadata" in params:
            endpoint["metadata"] = _merged_metadata(endpoint["metadata"], params["metadata"])
        if "disabled" in params:
            endpoint["status"] = "disabled" if _as_bool(params["disabled"], "disabled") else "enabled"
        await self._register_with_localstripe(endpoint, self.state.webhook_secrets[endpoint["id"]])
        return web.json_response(endpoint)

    async def delete_webhook_endpoint(self, request: web.Request) -> web.Response:
        endpoint = self._endpoint(request.match_info["id"])
        await self._register_with_localstripe({**endpoint, "status": "disabled"}, "whsec_deleted")
        del self.state.webhook_endpoints[endpoint["id"]]
        del self.state.webhook_secrets[endpoint["id"]]
        return web.json_response({"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})

    async def list_webhook_endpoints(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        _reject_unknown(params, ("limit", "starting_after", "ending_before"))
        endpoints = _newest_first(self.state.webhook_endpoints.values())
        return web.json_response(_paginate(endpoints, params, "/v1/webhook_endpoints"))

    async def _register_with_localstripe(self, endpoint: dict[str, Any], secret: str) -> None:
        """localstripe has no delete: a disabled endpoint is registered with no events at all."""
        config: dict[str, Any] = {"url": endpoint["url"], "secret": secret}
        if endpoint["status"] != "enabled":
            config["events"] = []
        elif "*" not in endpoint["enabled_events"]:
            config["events"] = endpoint["enabled_events"]
        async with self.session.post(f"{self.upstream_url}/_config/webhooks/{endpoint['id']}", json=config) as response:
            if response.status >= 400:
                raise StripeError(502, f"localstripe refused the webhook config ({response.status})", type_="api_error")

    async def send_event(self, event_type: str, data_object: dict[str, Any],
                         previous_attributes: dict[str, Any] | None = None) -> list[WebhookDelivery]:
        """Deliver a signed event to every enabled endpoint subscribed to it; wait for the answers."""
        event = {"id": _new_id("evt_"), "object": "event", "api_version": STRIPE_API_VERSION,
                 "created": int(time.time()), "data": {"object": data_object}, "livemode": False,
                 "pending_webhooks": 0, "request": {"id": None, "idempotency_key": None}, "type": event_type}
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        targets = [e for e in self.state.webhook_endpoints.values() if e["status"] == "enabled"
                   and ("*" in e["enabled_events"] or event_type in e["enabled_events"])]
        event["pending_webhooks"] = len(targets)
        payload = json.dumps(event).encode()
        deliveries = await asyncio.gather(*(self._deliver(endpoint, event, payload) for endpoint in targets))
        self.state.deliveries.extend(deliveries)
        return deliveries

    async def _deliver(self, endpoint: dict[str, Any], event: dict[str, Any], payload: bytes) -> WebhookDelivery:
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Stripe-Signature": sign_payload(payload, self.state.webhook_secrets[endpoint["id"]])}
        delivery = WebhookDelivery(endpoint["id"], endpoint["url"], event["id"], event["type"], None)
        try:
            async with self.session.post(endpoint["url"], data=payload, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=WEBHOOK_DELIVERY_TIMEOUT_SECONDS)) as r:
                delivery.status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            delivery.error = f"{type(error).__name__}: {error}"
        return delivery

    async def post_event(self, request: web.Request) -> web.Response:
        """Test hook: `{"type": ..., "object": {...}, "previous_attributes": {...}}` → signed delivery."""
        body = await request.json()
        if not isinstance(body, dict) or not body.get("type") or not isinstance(body.get("object"), dict):
            raise StripeError(400, 'Expected JSON {"type": "...", "object": {...}}')
        deliveries = await self.send_event(body["type"], body["object"], body.get("previous_attributes"))
        return web.json_response({"deliveries": [vars(d) for d in deliveries]})


BRIDGE_KEY = web.AppKey("bridge", Bridge)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header: t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<payload>")>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def _api_key(request: web.Request) -> str:
    """The secret key of the caller (Bearer or Basic, as localstripe accepts)."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        credentials = base64.b64decode(credentials).decode().split(":")[0]
    elif scheme != "Bearer":
        return ""
    return credentials if credentials.startswith("sk_") and len(credentials) > 5 else ""


def _expand_list(params: dict[str, Any]) -> list[str]:
    expand = params.get("expand") or []
    return expand if isinstance(expand, list) else [expand]


def _merged_metadata(current: dict[str, Any], update: Any) -> dict[str, Any]:
    """Stripe semantics: keys set to "" are removed, others set, absent ones kept."""
    if update == "":
        return {}
    merged = {**current, **update}
    return {key: value for key, value in merged.items() if value != ""}


def _enabled_events(value: Any) -> list[str]:
    events = value if isinstance(value, list) else [value]
    if not events or not all(isinstance(event, str) and event for event in events):
        raise StripeError(400, "enabled_events must be a list of event types (or ['*']).", param="enabled_events")
    return events


def _validated_tiers(tiers: Any) -> list[dict[str, Any]]:
    if not isinstance(tiers, list) or not tiers:
        raise StripeError(400, "Missing required param: tiers.", param="tiers", code="parameter_missing")
    validated = []
    for index, tier in enumerate(tiers):
        up_to = tier.get("up_to") if isinstance(tier, dict) else None
        if up_to is None:
            raise StripeError(400, f"Missing required param: tiers[{index}][up_to].", param=f"tiers[{index}][up_to]")
        is_last = index == len(tiers) - 1
        if (up_to == "inf") != is_last:
            raise StripeError(400, "The last tier, and only it, must have up_to=inf.", param=f"tiers[{index}][up_to]")
        unit_amount = _as_int(tier.get("unit_amount"), f"tiers[{index}][unit_amount]")
        flat_amount = _as_int(tier.get("flat_amount"), f"tiers[{index}][flat_amount]")
        validated.append({
            "flat_amount": flat_amount,
            "flat_amount_decimal": tier.get("flat_amount_decimal", None if flat_amount is None else str(flat_amount)),
            "unit_amount": unit_amount,
            "unit_amount_decimal": tier.get("unit_amount_decimal", None if unit_amount is None else str(unit_amount)),
            "up_to": None if up_to == "inf" else _as_int(up_to, f"tiers[{index}][up_to]"),
        })
    bounds = [tier["up_to"] for tier in validated[:-1]]
    if bounds != sorted(set(bounds)):
        raise StripeError(400, "Tier up_to values must increase.", param="tiers")
    return validated


def _validated_transform_quantity(transform: Any) -> dict[str, Any] | None:
    if not transform:
        return None
    divide_by = _as_int(transform.get("divide_by"), "transform_quantity[divide_by]")
    if not divide_by or divide_by < 1:
        raise StripeError(400, "transform_quantity[divide_by] must be a positive integer.",
                          param="transform_quantity[divide_by]")
    rounding = transform.get("round")
    if rounding not in ("up", "down"):
        raise StripeError(400, "transform_quantity[round] must be up or down.", param="transform_quantity[round]")
    return {"divide_by": divide_by, "round": rounding}


def _backing_plan(price: dict[str, Any]) -> dict[str, Any]:
    """The localstripe plan behind a recurring price (same id). Metered → amount 0: gap 4."""
    recurring = price["recurring"]
    plan: dict[str, Any] = {"id": price["id"], "product": price["product"], "currency": price["currency"],
                            "interval": recurring["interval"], "interval_count": recurring["interval_count"],
                            "usage_type": recurring["usage_type"], "active": price["active"]}
    if recurring["usage_type"] == "metered":
        plan["amount"] = 0
    elif price["billing_scheme"] == "tiered":
        plan.update(billing_scheme="tiered", tiers_mode=price["tiers_mode"], tiers=[
            {"up_to": "inf" if t["up_to"] is None else t["up_to"], "unit_amount": t["unit_amount"] or 0,
             "flat_amount": t["flat_amount"] or 0} for t in price["tiers"]])
    else:
        plan["amount"] = price["unit_amount"] or 0
    return plan


_SEARCH_CLAUSE = re.compile(r"""\s*(?P<field>metadata\[['"](?P<key>[^'"]+)['"]\]|[a-z_]+)\s*:\s*['"](?P<value>[^'"]*)['"]\s*""")


def _parse_search_query(query: str) -> list[tuple[tuple[str, ...], str]]:
    conditions = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        match = _SEARCH_CLAUSE.fullmatch(clause)
        if not match:
            raise StripeError(400, f"The bridge understands `field:'value'` clauses joined by AND, not: {clause}",
                              param="query")
        path = ("metadata", match["key"]) if match["key"] else (match["field"],)
        conditions.append((path, match["value"]))
    return conditions


def _matches(obj: dict[str, Any], path: tuple[str, ...], value: str) -> bool:
    current: Any = obj
    for part in path:
        current = current.get(part) if isinstance(current, dict) else None
    if isinstance(current, bool):
        current = "true" if current else "false"
    return current is not None and str(current) == value


def create_app(upstream_url: str, state: BridgeState | None = None) -> web.Application:
    """The bridge as an aiohttp app in front of the localstripe at `upstream_url`."""
    bridge = Bridge(upstream_url, state or BridgeState())
    app = web.Application(middlewares=[bridge.errors, bridge.idempotency, bridge.authentication])
    app[BRIDGE_KEY] = bridge

    async def close_session(_app: web.Application) -> None:
        await bridge.close()

    app.on_cleanup.append(close_session)
    routes = [
        ("POST", "/v1/prices", bridge.create_price),
        ("GET", "/v1/prices", bridge.list_prices),
        ("GET", "/v1/prices/{id}", bridge.retrieve_price),
        ("POST", "/v1/prices/{id}", bridge.update_price),
        ("POST", "/v1/subscriptions", bridge.create_subscription),
        ("GET", "/v1/subscriptions", bridge.forward_subscription),
        ("GET", "/v1/subscriptions/{id}", bridge.forward_subscription),
        ("POST", "/v1/subscriptions/{id}", bridge.update_subscription),
        ("DELETE", "/v1/subscriptions/{id}", bridge.forward_subscription),
        ("POST", "/v1/billing/meters", bridge.create_meter),
        ("GET", "/v1/billing/meters", bridge.list_meters),
        ("GET", "/v1/billing/meters/{id}", bridge.retrieve_meter),
        ("POST", "/v1/billing/meters/{id}", bridge.update_meter),
        ("POST", "/v1/billing/meters/{id}/{action:deactivate|reactivate}", bridge.set_meter_status),
        ("POST", "/v1/billing/meter_events", bridge.create_meter_event),
        ("GET", "/v1/{resource:products|customers}/search", bridge.search),
        ("POST", "/v1/checkout/sessions", bridge.create_checkout_session),
        ("GET", "/v1/checkout/sessions", bridge.list_checkout_sessions),
        ("GET", "/v1/checkout/sessions/{id}", bridge.retrieve_checkout_session),
        ("POST", "/v1/checkout/sessions/{id}/expire", bridge.expire_checkout_session),
        ("POST", "/v1/webhook_endpoints", bridge.create_webhook_endpoint),
        ("GET", "/v1/webhook_endpoints", bridge.list_webhook_endpoints),
        ("GET", "/v1/webhook_endpoints/{id}", bridge.retrieve_webhook_endpoint),
        ("POST", "/v1/webhook_endpoints/{id}", bridge.update_webhook_endpoint),
        ("DELETE", "/v1/webhook_endpoints/{id}", bridge.delete_webhook_endpoint),
        ("GET", "/_bridge/checkout/{id}", bridge.checkout_page),
        ("POST", "/_bridge/checkout/{id}/complete", bridge.complete_checkout),
        ("POST", "/_bridge/events", bridge.post_event),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    app.router.add_route("*", "/{tail:.*}", bridge.forward)
    return app
