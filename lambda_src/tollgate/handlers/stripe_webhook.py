"""POST /stripe/webhook: verify Stripe's signature on the raw body, apply the event, answer.

Answers Stripe reads: 200 once the event is applied, was applied before, is stale or is not for
us; 400 when the signature is missing or wrong or its timestamp is outside the tolerance (nothing
is changed); 409/503 when the event could not be applied yet (an account still being registered,
a service failing): Stripe retries those for three days.

Wiring happens once per Lambda instance; the Stripe adapter is rebuilt only when the cached
secret changes. Logs carry event ids and outcomes, never the payload.
"""

from __future__ import annotations

import functools

from aws_lambda_powertools.event_handler import Response

from tollgate import contract, wiring
from tollgate.adapters.stripe_checkout import verify_webhook_event
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, InvalidWebhookSignature, ValidationFailed
from tollgate.domain.lifecycle import LifecycleService
from tollgate.handlers.http import http_function, raw_body

STRIPE_SIGNATURE_HEADER = "Stripe-Signature"

function = http_function(
    "tollgate-stripe-webhook",
    downstream_message="A service Tollgate relies on failed; retry later.",
    unavailable_message="The webhook is not configured yet; retry later.",
)
config, logger, app = function.config, function.logger, function.app
api_keys, accounts, secrets = function.api_keys, function.accounts, function.secrets


@functools.lru_cache(maxsize=1)
def _service_for(stripe_secret_key: str) -> LifecycleService:
    return wiring.lifecycle_service(config, stripe_secret_key, api_keys, accounts)


@app.post(contract.ROUTE_STRIPE_WEBHOOK)
def stripe_webhook() -> Response:
    request = app.current_event
    current = secrets.load()
    event = verify_webhook_event(
        raw_body(request) or "", request.headers.get(STRIPE_SIGNATURE_HEADER), current.stripe_webhook_secret
    )
    logger.append_keys(stripe_event_id=event.id, stripe_event_type=event.type)
    outcome = _service_for(current.stripe_secret_key).handle(event)
    logger.info("Stripe event handled", extra={"outcome": outcome.value})
    return function.respond(200, {"received": True, "outcome": outcome.value})


@app.exception_handler([InvalidWebhookSignature, ValidationFailed])
def _not_from_stripe(error: Exception) -> Response:
    logger.warning("Rejected a webhook that Stripe did not sign", extra={"reason": str(error)})
    return function.error(400, f"Not a valid Stripe webhook: {str(error).rstrip('.')}.")


@app.exception_handler(ConcurrentUpdate)
def _busy(error: ConcurrentUpdate) -> Response:
    logger.info("Stripe event deferred", extra={"reason": str(error)})
    return function.error(409, "The account is changing; retry later.")


@app.exception_handler(DownstreamError)
def _downstream_failed(error: DownstreamError) -> Response:
    """Always 503, even when Stripe refused a call: Stripe retries any non-2xx for three days, and
    a refusal (a deployment fix) may well be repaired by then."""
    logger.warning("Stripe event not applied", extra={"service": error.service, "reason": str(error)})
    return function.error(503, function.downstream_message)


handler = function.lambda_handler()
