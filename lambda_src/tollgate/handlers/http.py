"""What every Tollgate HTTP function shares: its wiring, built once per Lambda instance (settings
checked, logger, Powertools resolver, AWS adapters, cached secret), one JSON body shape for every
error, no caching, and the signup site's origin on every answer (never `*`) so the browser can
read it.

Status codes every function answers alike:
- 400 ValidationFailed (`fields` names each bad field), 413 RequestTooLarge, 404 unknown route;
- 503 + Retry-After when a downstream service is unreachable, throttled or failing (5xx,
  timeouts): trying again later should work;
- 502 when a downstream service refused our request (a 4xx from Stripe, Moesif or AWS): the
  deployment needs a fix, so no Retry-After;
- 503 + Retry-After when the function itself is not configured yet (a placeholder secret).
Each handler module adds its route(s) and the errors only it raises.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from tollgate import contract, wiring
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.secrets import SecretStore
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConfigurationError, DownstreamError, RequestTooLarge, ValidationFailed

RETRY_AFTER_SECONDS = "60"


def raw_body(event: APIGatewayProxyEvent) -> str | bytes | None:
    """The body exactly as the client sent it: API Gateway hands non-text bodies over base64-encoded.
    Undecodable base64 is the client's fault (400), never a 500."""
    if not event.is_base64_encoded or not event.body:
        return event.body
    try:
        return base64.b64decode(event.body, validate=True)
    except binascii.Error:
        raise ValidationFailed("The request body is not valid base64.", {"body": "must be a JSON object"}) from None


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP function's module-scope wiring, reused by every invocation of its Lambda instance."""

    config: RuntimeConfig
    logger: Logger
    app: APIGatewayRestResolver
    api_keys: ApiGatewayKeys
    accounts: DynamoAccounts
    secrets: SecretStore
    downstream_message: str
    unavailable_message: str

    def respond(self, status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
        """A JSON response, never cached (it can hold a key). The resolver's CORSConfig adds the
        signup site's origin when the request comes from it."""
        return Response(
            status_code=status,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(body),
            headers={"Cache-Control": "no-store", "Vary": "Origin", **(headers or {})},
        )

    def error(self, status: int, message: str, fields: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Response:
        """`{"error": "<one sentence>", "fields": {"<field>": "<what is wrong>"}}`."""
        return self.respond(status, {"error": message, "fields": fields or {}}, headers)

    def invalid(self, error: ValidationFailed) -> Response:
        self.logger.info("Rejected an invalid request", extra={"fields": sorted(error.fields)})
        return self.error(400, str(error), error.fields)

    def too_large(self, error: RequestTooLarge) -> Response:
        return self.error(413, str(error))

    def downstream_failed(self, error: DownstreamError) -> Response:
        self.logger.warning(
            "A downstream service failed",
            extra={"service": error.service, "reason": str(error), "retryable": error.retryable},
        )
        if error.retryable:
            return self.error(503, self.downstream_message, headers={"Retry-After": RETRY_AFTER_SECONDS})
        return self.error(502, self.downstream_message)

    def unavailable(self, error: Exception) -> Response:
        self.logger.error("Unavailable", extra={"reason": str(error)})
        return self.error(503, self.unavailable_message, headers={"Retry-After": RETRY_AFTER_SECONDS})

    def not_found(self, _: Exception) -> Response:
        return self.error(404, "Not found.")

    def lambda_handler(self, on_invoke: Callable[[Any], None] | None = None) -> Callable[[dict, Any], dict]:
        """The Lambda entry point: logs correlated by API Gateway's request id, never the event
        (it can hold a key or a sign-up), and no keys carried over from the previous invocation."""

        @self.logger.inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
        )
        def handler(event: dict, context: Any) -> dict:
            if on_invoke is not None:
                on_invoke(context)
            return self.app.resolve(event, context)

        return handler


def cors_policy(allowed_origin: str) -> CORSConfig:
    """contract.py's CORS policy for the signup site's origin (the stage's preflight uses it too)."""
    return CORSConfig(
        allow_origin=allowed_origin,
        allow_headers=list(contract.CORS_ALLOWED_HEADERS),
        max_age=contract.CORS_MAX_AGE_SECONDS,
    )


def http_function(service: str, *, downstream_message: str, unavailable_message: str) -> HttpFunction:
    """Wire one HTTP function from the environment the stack sets (ConfigurationError naming a
    missing variable at cold start), with the shared error mappings and contract.py's CORS policy
    (Powertools answers a preflight that reaches the function the way the stage does)."""
    config = RuntimeConfig.from_environ(os.environ)
    function = HttpFunction(
        config=config,
        logger=Logger(service=service),
        app=APIGatewayRestResolver(cors=cors_policy(config.allowed_origin)),
        api_keys=wiring.api_keys_for(config),
        accounts=wiring.accounts_for(config),
        secrets=SecretStore(config.secret_arn),
        downstream_message=downstream_message,
        unavailable_message=unavailable_message,
    )
    app = function.app
    app.exception_handler(ValidationFailed)(function.invalid)
    app.exception_handler(RequestTooLarge)(function.too_large)
    app.exception_handler(DownstreamError)(function.downstream_failed)
    app.exception_handler(ConfigurationError)(function.unavailable)
    app.not_found(function.not_found)
    return function
