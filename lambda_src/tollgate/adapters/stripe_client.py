"""The one way Tollgate talks to Stripe: a client with the pinned API version, a timeout and
bounded retries (rebuilt only when the secret key rotates), the API base the tests and `make dev`
redirect to the localstripe bridge, and the mapping of Stripe's failures to DownstreamError.

Shared by every Stripe adapter (billing, checkout, webhook events). `stripe` is imported on first
use, so a cold start that never calls Stripe does not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from tollgate import contract
from tollgate.domain.errors import DownstreamError

if TYPE_CHECKING:
    import stripe

STRIPE_TIMEOUT_SECONDS = (2, 4)  # connect, read: Stripe answers a create in about a second
# The SDK retries connection errors (timeouts included), 409 lock timeouts, 429 and 5xx after a
# 0.5 s pause, re-sending the same Idempotency-Key, so a retried create never creates twice.
STRIPE_MAX_NETWORK_RETRIES = 1
STRIPE_CALL_BUDGET_SECONDS = (STRIPE_MAX_NETWORK_RETRIES + 1) * sum(
    STRIPE_TIMEOUT_SECONDS
) + 0.5 * STRIPE_MAX_NETWORK_RETRIES
SERVICE = "Stripe"
T = TypeVar("T")


def stripe_client(secret_key: str, api_base: str | None = None) -> stripe.StripeClient:
    """A StripeClient for `secret_key`; `api_base` (TOLLGATE_STRIPE_API_BASE) replaces
    https://api.stripe.com when set."""
    import stripe

    return stripe.StripeClient(
        secret_key,
        stripe_version=contract.STRIPE_API_VERSION,
        base_addresses={"api": api_base} if api_base else {},
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
        max_network_retries=STRIPE_MAX_NETWORK_RETRIES,
    )


class StripeClientForSecret:
    """Calling it gives the client for the secret's current Stripe key: built on first use and
    again only after the key changed (a rotated key is picked up as soon as the secret cache is)."""

    def __init__(self, secret_key: Callable[[], str], api_base: str | None = None):
        self._secret_key = secret_key
        self._api_base = api_base
        self._lock = threading.Lock()
        self._built: tuple[str, stripe.StripeClient] | None = None

    def __call__(self) -> stripe.StripeClient:
        key = self._secret_key()
        with self._lock:
            if self._built is None or self._built[0] != key:
                self._built = (key, stripe_client(key, self._api_base))
            return self._built[1]


@overload
def call_stripe(action: str, operation: Callable[..., T], *arguments: Any, gone_ok: Literal[False] = False) -> T: ...


@overload
def call_stripe(action: str, operation: Callable[..., T], *arguments: Any, gone_ok: Literal[True]) -> T | None: ...


def call_stripe(action: str, operation: Callable[..., T], *arguments: Any, gone_ok: bool = False) -> T | None:
    """`operation(*arguments)`, its failures as DownstreamError. With `gone_ok`, Stripe's 404 (a
    deleted customer, a subscription already canceled) answers None instead."""
    import stripe

    try:
        return operation(*arguments)
    except stripe.InvalidRequestError as error:
        if gone_ok and (error.http_status == 404 or error.code == "resource_missing"):
            return None
        raise downstream_error(action, error) from None
    except stripe.StripeError as error:
        raise downstream_error(action, error) from None


def downstream_error(action: str, error: Exception) -> DownstreamError:
    """DownstreamError for a failed Stripe call: retryable when Stripe was unreachable, rate
    limited or failing (5xx); not when it refused the request (4xx)."""
    status = getattr(error, "http_status", None)
    code = getattr(error, "code", None)
    retryable = status is None or status == 429 or status >= 500
    detail = f"{type(error).__name__}, HTTP {status}" if status else type(error).__name__
    return DownstreamError(SERVICE, f"{action} failed ({detail}{', ' + code if code else ''})", retryable=retryable)
