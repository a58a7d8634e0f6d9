"""What every Tollgate HTTP function shares: one JSON body shape for every error, no caching, the
Powertools logger and resolver, and the wiring of the process (tollgate.wiring), looked up per
request so a test can install fakes.

No CORS: the signup site calls these functions on its own origin (`/api/...` through CloudFront),
and machine clients are no browsers, so no answer carries Access-Control-* headers.

Status codes every function answers alike:
- 400 ValidationFailed (`fields` names each bad field), 413 RequestTooLarge, 404 unknown route;
- 503 + Retry-After when a downstream service is unreachable, throttled or failing (5xx,
  timeouts): trying again later should work;
- 502 when a downstream service refused our request (a 4xx from Stripe, Moesif or AWS): the
  deployment needs a fix, so no Retry-After;
- 503 + Retry-After when the function itself is not configured yet (a placeholder secret);
- 409 when the account kept changing while the request was deciding on it (tollgate.domain.account:
  every write is conditional on the row's version): nothing was half-done, trying again works.
Each handler module adds its routes and the errors only it raises to `function.router`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from tollgate import wiring
from tollgate.domain.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    DownstreamError,
    InvalidLink,
    RequestTooLarge,
    TooManyEmails,
    ValidationFailed,
)
from tollgate.metrics import published_per_invocation

RETRY_AFTER_SECONDS = "60"
JSON_MEDIA_TYPE = "application/json"
Handler = TypeVar("Handler", bound=Callable[..., Response[str]])


def require_json(event: APIGatewayProxyEvent) -> None:
    """State-changing requests on the site's own origin must say they are JSON: a plain HTML form
    (or any cross-site "simple" request) cannot, so the session cookie cannot be ridden by one (CSRF)."""
    media_type = (event.headers.get("Content-Type") or event.headers.get("content-type") or "").split(";")[0]
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise ValidationFailed(
            f"Send the request as JSON with the header Content-Type: {JSON_MEDIA_TYPE}.",
            {"Content-Type": f"must be {JSON_MEDIA_TYPE}"},
        )


def raw_body(event: APIGatewayProxyEvent) -> str | bytes | None:
    """The body exactly as the client sent it: API Gateway hands non-text bodies over base64-encoded.
    Undecodable base64 is the client's fault (400), never a 500."""
    if not event.is_base64_encoded or not event.body:
        return event.body
    try:
        return base64.b64decode(event.body, validate=True)
    except binascii.Error:
        raise ValidationFailed("The request body is not valid base64.", {"body": "must be a JSON object"}) from None


def respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    """A JSON response, never cached (it can hold a key)."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error(
    status: int, message: str, fields: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Response[str]:
    """`{"error": "<one sentence>", "fields": {"<field>": "<what is wrong>"}}`."""
    return respond(status, {"error": message, "fields": fields or {}}, headers)


class Router(APIGatewayRouter):
    """Powertools' router for a REST API (its `current_event` is an APIGatewayProxyEvent) whose
    `exception_handler` says what it returns: the handler it registers, unchanged (Powertools leaves
    that decorator factory unannotated, which would make every handler it decorates untyped)."""

    def exception_handler(self, exc_class: type[Exception] | list[type[Exception]]) -> Callable[[Handler], Handler]:
        register = super().exception_handler(exc_class)

        def registered(handler: Handler) -> Handler:
            register(handler)
            return handler

        return registered


class HttpFunction:
    """One HTTP function: its logger, its routes (`router`, filled by the handler module) and the
    shared error mappings. The resolver is made at the first request, once every route is added."""

    def __init__(self, service: str, *, downstream_message: str, unavailable_message: str):
        self.logger = Logger(service=service)
        self.router = Router()
        self.downstream_message = downstream_message
        self.unavailable_message = unavailable_message
        self._resolver: APIGatewayRestResolver | None = None
        self.router.exception_handler(ValidationFailed)(self._invalid)
        self.router.exception_handler(RequestTooLarge)(lambda problem: error(413, str(problem)))
        self.router.exception_handler(DownstreamError)(self._downstream_failed)
        self.router.exception_handler(ConfigurationError)(self.unavailable)
        self.router.exception_handler(NotFoundError)(lambda _: error(404, "Not found."))
        self.router.exception_handler(InvalidLink)(self._invalid_link)
        self.router.exception_handler(TooManyEmails)(self._too_many_emails)
        self.router.exception_handler(ConcurrentUpdate)(self._busy)

    def _busy(self, problem: ConcurrentUpdate) -> Response[str]:
        self.logger.info("The account kept changing meanwhile", extra={"reason": str(problem)})
        return error(
            409,
            "Your account changed while we were working on it; nothing was lost. Reload the page and try again.",
            headers={"Retry-After": "1"},
        )

    def _invalid_link(self, problem: InvalidLink) -> Response[str]:
        self.logger.info("Refused an emailed link", extra={"reason": str(problem)})
        return error(
            410,
            "This link has expired or was already used: ask for a new one.",
            {"token": "expired, already used or unknown"},
        )

    def _too_many_emails(self, problem: TooManyEmails) -> Response[str]:
        self.logger.info("Email not sent: the address had its share this hour")
        return error(
            429,
            "We already sent several emails to this address this hour: use the newest one, or try "
            f"again in {max(1, problem.retry_after // 60)} minutes.",
            {"email": "too many emails this hour"},
            headers={"Retry-After": str(problem.retry_after)},
        )

    def _invalid(self, problem: ValidationFailed) -> Response[str]:
        self.logger.info("Rejected an invalid request", extra={"fields": sorted(problem.fields)})
        return error(400, str(problem), problem.fields)

    def _downstream_failed(self, problem: DownstreamError) -> Response[str]:
        self.logger.warning(
            "A downstream service failed",
            extra={"service": problem.service, "reason": str(problem), "retryable": problem.retryable},
        )
        if problem.retryable:
            return error(503, self.downstream_message, headers={"Retry-After": RETRY_AFTER_SECONDS})
        return error(502, self.downstream_message)

    def unavailable(self, problem: Exception) -> Response[str]:
        self.logger.error("Unavailable", extra={"reason": str(problem)})
        return error(503, self.unavailable_message, headers={"Retry-After": RETRY_AFTER_SECONDS})

    def _resolver_once_routed(self) -> APIGatewayRestResolver:
        if self._resolver is None:
            self._resolver = APIGatewayRestResolver()
            self._resolver.include_router(self.router)
        return self._resolver

    def lambda_handler(
        self, on_invoke: Callable[[Any], None] | None = None
    ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """The Lambda entry point: logs correlated by API Gateway's request id, never the event
        (it can hold a key or a sign-up), no keys carried over from the previous invocation, and
        the invocation's metrics printed when it ends."""

        @published_per_invocation
        @self.logger.inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
        )
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if on_invoke is not None:
                on_invoke(context)
            wiring.current()  # built at a cold start's first invocation: a missing setting fails it, never a route
            return self._resolver_once_routed().resolve(event, context)

        return handler
