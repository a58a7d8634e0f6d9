"""The one way Tollgate builds a Stripe client: pinned API version, timeout, bounded retries,
and the API base the tests and `make dev` redirect to the localstripe bridge.

Shared by the billing adapters (sign-up, checkout, webhook). `stripe` is imported here, on first
use, so the handler module's cold start does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tollgate import contract
from tollgate.domain.errors import DownstreamError

if TYPE_CHECKING:
    import stripe

STRIPE_TIMEOUT_SECONDS = (2, 4)  # connect, read: Stripe answers a create in about a second
# The SDK retries connection errors (timeouts included), 409 lock timeouts, 429 and 5xx after a
# 0.5 s pause, re-sending the same Idempotency-Key, so a retried create never creates twice.
STRIPE_MAX_NETWORK_RETRIES = 1
STRIPE_CALL_BUDGET_SECONDS = (STRIPE_MAX_NETWORK_RETRIES + 1) * sum(STRIPE_TIMEOUT_SECONDS) + 0.5 * STRIPE_MAX_NETWORK_RETRIES
SERVICE = "Stripe"


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


def downstream_error(action: str, error: Exception) -> DownstreamError:
    """DownstreamError for a failed Stripe call: retryable when Stripe was unreachable, rate
    limited or failing (5xx); not when it refused the request (4xx)."""
    status = getattr(error, "http_status", None)
    code = getattr(error, "code", None)
    retryable = status is None or status == 429 or status >= 500
    detail = f"{type(error).__name__}, HTTP {status}" if status else type(error).__name__
    return DownstreamError(SERVICE, f"{action} failed ({detail}{', ' + code if code else ''})", retryable=retryable)
