"""POST /billing/checkout: open Stripe Checkout (setup mode) so a customer adds a payment method.

The browser sends its API key in `x-api-key` and the key's id in the body `{"apiKeyId"}`; the
route needs no usage-plan key (a key awaiting its payment method is in no plan yet), so the
handler checks the pair itself (PaymentMethodCheckout). Answers `{"url": ...}`; 403 for any key
problem, without saying which; 400 for a malformed body.
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
from tollgate.config import RuntimeConfig
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.errors import (
    ApiKeyRejected,
    ConfigurationError,
    DownstreamError,
    RequestTooLarge,
    ValidationFailed,
)
from tollgate.domain.validation import parse_checkout_request
from tollgate.handlers.http import error_response, json_response, preflight_response, raw_body

config = RuntimeConfig.from_environ(os.environ)
logger = Logger(service="tollgate-checkout")
app = APIGatewayRestResolver()
api_keys = wiring.api_keys_for(config)
accounts = wiring.accounts_for(config)
secrets = SecretStore(config.secret_arn)


@functools.lru_cache(maxsize=1)
def _checkout_for(stripe_secret_key: str) -> PaymentMethodCheckout:
    return wiring.payment_method_checkout(config, stripe_secret_key, api_keys, accounts)


@app.post(contract.ROUTE_CHECKOUT)
def checkout() -> Response:
    request = app.current_event
    api_key_id = parse_checkout_request(raw_body(request))
    presented_key = request.headers.get(contract.API_KEY_HEADER) or ""
    if not presented_key:
        raise ApiKeyRejected("no x-api-key header")
    service = _checkout_for(secrets.load().stripe_secret_key)
    url = service.start(api_key_id, presented_key, request.request_context.request_id)
    logger.info("Checkout session opened", extra={"apiKeyId": api_key_id})
    return json_response(200, {"url": url}, config.allowed_origin)


@app.route(contract.ROUTE_CHECKOUT, method="OPTIONS")
def preflight() -> Response:
    return preflight_response(config.allowed_origin, "POST,OPTIONS")


@app.exception_handler(ValidationFailed)
def _invalid(error: ValidationFailed) -> Response:
    return error_response(400, str(error), config.allowed_origin, error.fields)


@app.exception_handler(RequestTooLarge)
def _too_large(error: RequestTooLarge) -> Response:
    return error_response(413, str(error), config.allowed_origin)


@app.exception_handler(ApiKeyRejected)
def _rejected(error: ApiKeyRejected) -> Response:
    logger.info("Checkout refused", extra={"reason": str(error)})
    return error_response(
        403, "This API key and key ID do not match an account that can add a payment method.", config.allowed_origin
    )


@app.exception_handler(DownstreamError)
def _downstream_failed(error: DownstreamError) -> Response:
    logger.warning("Checkout failed downstream", extra={"service": error.service, "reason": str(error)})
    return error_response(
        503 if error.retryable else 502,
        "We could not open the payment page because a service we rely on failed; please try again in a minute.",
        config.allowed_origin,
        headers={"Retry-After": "60"} if error.retryable else None,
    )


@app.exception_handler(ConfigurationError)
def _unavailable(error: ConfigurationError) -> Response:
    logger.error("Checkout unavailable", extra={"reason": str(error)})
    return error_response(503, "Adding a payment method is temporarily unavailable.", config.allowed_origin)


@app.not_found
def _not_found(_: Exception) -> Response:
    return error_response(404, "Not found.", config.allowed_origin)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
