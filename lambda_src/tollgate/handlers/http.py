"""JSON responses shared by the Tollgate handlers: one body shape for every error, no caching,
and the signup site's origin on every answer (never `*`) so the browser can read it."""

from __future__ import annotations

import base64
import binascii
import json

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from tollgate import contract
from tollgate.domain.errors import ValidationFailed


def json_response(status: int, body: dict, allowed_origin: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON response the signup site's origin may read; never cached (it can hold a key)."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers={
            "Access-Control-Allow-Origin": allowed_origin,
            "Vary": "Origin",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def error_response(
    status: int,
    message: str,
    allowed_origin: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """`{"error": "<one sentence>", "fields": {"<field>": "<what is wrong>"}}`."""
    return json_response(status, {"error": message, "fields": fields or {}}, allowed_origin, headers)


def preflight_response(allowed_origin: str, methods: str) -> Response:
    """What API Gateway's own CORS preflight answers; here only for local runs and tests."""
    return Response(
        status_code=204,
        body="",
        headers={
            "Access-Control-Allow-Origin": allowed_origin,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": ",".join(contract.CORS_ALLOWED_HEADERS),
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
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
