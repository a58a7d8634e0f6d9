"""Gap 1: localstripe ignores `Idempotency-Key` (the same key creates two customers).

The bridge replays the first response byte-for-byte for the same key + method + path +
parameters (24 h, scoped per API key, header `Idempotent-Replayed: true`), answers 400
`idempotency_error` when the key comes back with other parameters, and 409 `idempotency_error`
while the first request is still in flight (as Stripe does; the SDK retries 409), so concurrent
same-key requests never both reach localstripe. Like Stripe, the answer is saved once the endpoint
has started, 5xx included; a request that failed validation (a StripeError raised by a bridge
handler) or was refused before it ran (409, 429) is not saved, so its retry runs again
(https://docs.stripe.com/api/idempotent_requests). It covers every POST under /v1, whether the
bridge serves it or forwards it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from localdev.stripe_bridge.core import Handler, StripeError

IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@dataclass
class SavedResponse:
    fingerprint: tuple[str, str, Any]
    status: int
    body: bytes
    content_type: str
    saved_at: float


@dataclass
class IdempotencyState:
    """Saved answers by (Authorization, key), and the keys whose first request is still running."""

    responses: dict[tuple[str, str], SavedResponse] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)


def idempotency_middleware(state: IdempotencyState) -> Any:
    """The aiohttp middleware that applies Stripe's idempotency rules with `state`."""

    @web.middleware
    async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        scope = (request.headers.get("Authorization", ""), key)
        body = sorted(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        fingerprint = (request.method, request.path_qs, body)
        now = time.time()
        for expired in [k for k, saved in state.responses.items() if now - saved.saved_at > IDEMPOTENCY_TTL_SECONDS]:
            del state.responses[expired]
        saved = state.responses.get(scope)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    f"first used with. Try using a key other than '{key}' if you meant to execute a "
                    "different request.",
                    type_="idempotency_error",
                )
            return web.Response(
                status=saved.status,
                body=saved.body,
                headers={"Content-Type": saved.content_type, "Idempotent-Replayed": "true", "Idempotency-Key": key},
            )
        if scope in state.in_flight:
            raise StripeError(
                409,
                "There is currently another in-progress request using this Idempotent Key (that probably "
                f"means you submitted twice, and the other request is still going through): {key}. "
                "Please try again later.",
                type_="idempotency_error",
            )
        state.in_flight.add(scope)
        try:
            response = await handler(request)
        finally:
            state.in_flight.discard(scope)
        if isinstance(response, web.Response) and response.status not in (409, 429):
            saved_body = response.body if isinstance(response.body, bytes) else b""  # a json_response's is bytes
            state.responses[scope] = SavedResponse(fingerprint, response.status, saved_body, response.content_type, now)
            response.headers["Idempotency-Key"] = key
        return response

    return idempotency
