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
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from tollgate import contract, wiring
from tollgate.adapters.secrets import SecretStore
from tollgate.adapters.stripe_checkout import verify_webhook_event
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    DownstreamError,
    InvalidWebhookSignature,
    ValidationFailed,
)
from tollgate.domain.lifecycle import LifecycleService
from tollgate.handlers.http import error_response, json_response, raw_body

STRIPE_SIGNATURE_HEADER = "Stripe-Signature"

config = RuntimeConfig.from_environ(os.environ)
logger = Logger(service="tollgate-stripe-webhook")
app = APIGatewayRestResolver()
api_keys = wiring.api_keys_for(config)
accounts = wiring.accounts_for(config)
secrets = SecretStore(config.secret_arn)


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
    return json_response(200, {"received": True, "outcome": outcome.value}, config.allowed_origin)


@app.exception_handler([InvalidWebhookSignature, ValidationFailed])
def _not_from_stripe(error: Exception) -> Response:
    logger.warning("Rejected a webhook that Stripe did not sign", extra={"reason": str(error)})
    return error_response(400, f"Not a valid Stripe webhook: {str(error).rstrip('.')}.", config.allowed_origin)


@app.exception_handler(ConcurrentUpdate)
def _busy(error: ConcurrentUpdate) -> Response:
    logger.info("Stripe event deferred", extra={"reason": str(error)})
    return error_response(409, "The account is changing; retry later.", config.allowed_origin)


@app.exception_handler(DownstreamError)
def _downstream_failed(error: DownstreamError) -> Response:
    logger.warning("Stripe event not applied", extra={"service": error.service, "reason": str(error)})
    return error_response(503, "A service Tollgate relies on failed; retry later.", config.allowed_origin)


@app.exception_handler(ConfigurationError)
def _unavailable(error: ConfigurationError) -> Response:
    logger.error("Webhook unavailable", extra={"reason": str(error)})
    return error_response(503, "The webhook is not configured yet; retry later.", config.allowed_origin)


@app.not_found
def _not_found(_: Exception) -> Response:
    return error_response(404, "Not found.", config.allowed_origin)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
def handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
