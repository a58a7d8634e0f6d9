"""What every surface of the bridge shares: Stripe's error JSON, Stripe's form encoding, list
pagination, the caller's API key, and the client of the localstripe behind the bridge.

The surfaces (one module each) only answer in Stripe's shapes; anything the bridge does not serve
is forwarded to localstripe unchanged by `Upstream.forward`.
"""

from __future__ import annotations

import base64
import json
import secrets
import warnings
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web
from multidict import MultiDict

with warnings.catch_warnings():
    # Importing localstripe.server builds its app, whose sync handlers aiohttp flags as deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from localstripe.server import unflatten_data  # the exact form decoding localstripe applies

UPSTREAM_TIMEOUT_SECONDS = 10
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]  # method, path pattern, handler: what each surface's routes() lists


class Surface(Protocol):
    """One part of Stripe's API the bridge serves (prices, subscriptions, Checkout, ...)."""

    def routes(self) -> list[Route]: ...


# --- Stripe-shaped errors ------------------------------------------------------------------------


class StripeError(Exception):
    """Raised by a bridge handler; rendered as Stripe's error JSON by `stripe_errors`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type_, "message": message}
        if param:
            self.body["param"] = param
        if code:
            self.body["code"] = code
        self.body.update(details or {})  # e.g. a card error's decline_code

    def response(self) -> web.Response:
        return web.json_response({"error": self.body}, status=self.status)


@web.middleware
async def stripe_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except StripeError as error:
        return error.response()


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bridge-served /v1 routes need a secret key like localstripe's (forwarded ones are checked there)."""
    if request.path.startswith("/v1/") and not api_key(request):
        raise StripeError(401, "You did not provide an API key.")
    return await handler(request)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """Stripe's `resource_missing`: 404 for the object a URL names, 400 for an id passed as `param`."""
    return StripeError(
        404 if param == "id" else 400, f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def stored(objects: dict[str, dict[str, Any]], kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
    """The bridge-held object with that id, or Stripe's `resource_missing` naming `param` (see missing)."""
    try:
        return objects[object_id]
    except KeyError:
        raise missing(kind, object_id, param) from None


def require(params: dict[str, Any], *path: str) -> Any:
    """The value at `path` (`"recurring", "meter"` is `recurring[meter]`), or Stripe's parameter_missing."""
    value: Any = params
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value in (None, ""):
        name = path[0] + "".join(f"[{key}]" for key in path[1:])
        raise StripeError(400, f"Missing required param: {name}.", param=name, code="parameter_missing")
    return value


def reject_unknown(params: dict[str, Any], allowed: Iterable[str]) -> None:
    """Stripe refuses parameters it does not know; the bridge refuses those it does not emulate."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {unknown[0]}", param=unknown[0], code="parameter_unknown")


def as_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise StripeError(400, f"Invalid boolean: {value}", param=name)


def required_int(params: dict[str, Any], name: str) -> int:
    """An integer parameter Stripe requires (its 400 when missing or not an integer)."""
    value = as_int(require(params, name), name)
    assert value is not None  # `require` refused a missing one
    return value


def as_int(value: Any, name: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=name) from None


def amount_pair(params: dict[str, Any], name: str) -> tuple[int | None, str | None]:
    """Stripe's `<name>` / `<name>_decimal` pair from either form: the integer is set "if possible"."""
    whole = as_int(params.get(name), name)
    if whole is not None:
        return whole, str(whole)
    decimal_text = params.get(f"{name}_decimal")
    if decimal_text is None:
        return None, None
    try:
        amount = Decimal(decimal_text)
        return (int(amount) if amount == amount.to_integral_value() else None), decimal_text
    except (InvalidOperation, OverflowError):
        raise StripeError(400, f"Invalid decimal: {decimal_text}", param=f"{name}_decimal") from None


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def api_key(request: web.Request) -> str:
    """The secret key of the caller (Bearer or Basic, as localstripe accepts); "" if none."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        credentials = base64.b64decode(credentials).decode().split(":")[0]
    elif scheme != "Bearer":
        return ""
    return credentials if credentials.startswith("sk_") and len(credentials) > 5 else ""


# --- Stripe's form encoding (what the stripe SDK sends for /v1) -----------------------------------


async def request_params(request: web.Request) -> dict[str, Any]:
    """The decoded parameters: the query of a GET, the form body otherwise."""
    if request.method == "GET":
        return unflatten_data(request.query)
    return unflatten_data(MultiDict(parse_qsl((await request.read()).decode(), keep_blank_values=True)))


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Inverse of request_params: Stripe's `a[b][0][c]=v` encoding."""
    if isinstance(value, dict):
        return [
            pair for key, item in value.items() for pair in flatten(item, f"{prefix}[{key}]" if prefix else str(key))
        ]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value) for pair in flatten(item, f"{prefix}[{index}]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "" if value is None else str(value))]


def paginate(objects: Iterable[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """Stripe's list envelope over bridge-held objects (kept in creation order; Stripe lists newest first)."""
    items = list(reversed(list(objects)))
    limit = as_int(params.get("limit"), "limit") or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    start = 0
    if params.get("starting_after"):
        ids = [item["id"] for item in items]
        if params["starting_after"] not in ids:
            raise missing("object", params["starting_after"], "starting_after")
        start = ids.index(params["starting_after"]) + 1
    return {"object": "list", "url": url, "has_more": start + limit < len(items), "data": items[start : start + limit]}


# --- localstripe -------------------------------------------------------------------------------


class Upstream:
    """The localstripe behind the bridge, and the one HTTP session the bridge makes calls with."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_SECONDS))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, key: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call localstripe; its errors are re-raised as Stripe errors for the bridge's caller."""
        headers = {"Authorization": f"Bearer {key}"}
        encoded = urlencode(flatten(params or {}))
        if method in ("GET", "DELETE"):
            kwargs: dict[str, Any] = {"params": encoded, "headers": headers}
        else:
            kwargs = {"data": encoded, "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"}}
        async with self.session.request(method, self.url + path, **kwargs) as response:
            payload = await response.json(content_type=None)
            if response.status >= 400:
                error = payload.get("error", {}) if isinstance(payload, dict) else {}
                raise StripeError(
                    response.status,
                    error.get("message", f"localstripe answered {response.status}"),
                    param=error.get("param"),
                    code=error.get("code"),
                )
            return payload

    async def require_object(self, kind: str, resource: str, object_id: str, key: str, param: str) -> None:
        """Stripe's answer for an id in `param` that names no localstripe object (localstripe says only 404)."""
        try:
            await self.call("GET", f"/v1/{resource}/{object_id}", key)
        except StripeError as error:
            if error.status == 404:
                raise missing(kind, object_id, param) from None
            raise

    async def configure(self, path: str, config: dict[str, Any]) -> None:
        """localstripe's own `/_config/...` API (JSON, no key)."""
        async with self.session.post(self.url + path, json=config) as response:
            if response.status >= 400:
                raise StripeError(502, f"localstripe refused {path} ({response.status})", type_="api_error")

    async def forward(
        self, request: web.Request, body: bytes | None = None, reshape: Callable[[Any], Any] | None = None
    ) -> web.Response:
        """Send the request on to localstripe as-is (or with a rewritten body); `reshape` edits a success."""
        data = await request.read() if body is None else body
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        async with self.session.request(
            request.method, self.url + request.path_qs, data=data or None, headers=headers
        ) as upstream:
            payload = await upstream.read()
            content_type = upstream.headers.get("Content-Type", "application/json")
            if upstream.status == 404 and not content_type.startswith("application/json"):
                raise StripeError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.path}). Neither the "
                    "Stripe bridge nor localstripe emulates it.",
                )
            if reshape is not None and upstream.status < 400:
                payload = json.dumps(reshape(json.loads(payload)), indent=2, sort_keys=True).encode() + b"\n"
            return web.Response(status=upstream.status, body=payload, headers={"Content-Type": content_type})
