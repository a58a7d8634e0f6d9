"""JSON responses shared by the Tollgate handlers: one body shape for every error, no caching,
and the signup site's origin on every answer (never `*`) so the browser can read it."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types

from tollgate import contract


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
