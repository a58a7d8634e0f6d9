"""What API Gateway answers by itself, as plain data (no CDK import): the bodies of its error
answers (bad key, throttling, quota, bad body, 5xx), the headers it puts on them, and the
`/register` body model it checks before any Lambda runs.

infra/api.py installs them on the stage (gateway responses, request model) and localdev/gateway.py
applies the same ones, so a client sees one error shape, `{"error": ..., "fields": {...}}` where a
field is at fault, with the same headers, in production and in `make dev`.
"""

from __future__ import annotations

import json
from typing import Any

from tollgate.domain.validation import FIELD_BODY, FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME

REGISTER_BODY_FIELDS = (FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME)
# A generous upper bound: the gateway only stops abuse-sized fields; the register Lambda applies
# the real (tighter) rules and names the offending field.
REGISTER_FIELD_MAX_LENGTH = 512
# The /register request model (JSON Schema draft 4, the draft API Gateway models use). Only the
# shape: an object whose known fields are strings of bounded length. No `required`: a missing
# field gets the Lambda's detailed 400 naming it.
JSON_SCHEMA_DRAFT4 = "http://json-schema.org/draft-04/schema#"
REGISTER_BODY_CONTENT_TYPE = "application/json"
REGISTER_BODY_MODEL: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DRAFT4,
    "type": "object",
    "properties": {
        field: {"type": "string", "maxLength": REGISTER_FIELD_MAX_LENGTH} for field in REGISTER_BODY_FIELDS
    },
}

MESSAGE_VARIABLE = "$context.error.messageString"  # API Gateway substitutes a quoted JSON string

# Keys are API Gateway response types; values are (status override or None, body template).
GATEWAY_ERRORS: dict[str, tuple[str | None, str]] = {
    "DEFAULT_4XX": (None, '{"error": %s}' % MESSAGE_VARIABLE),
    "DEFAULT_5XX": (None, '{"error": "The service had a problem; please try again in a minute."}'),
    "BAD_REQUEST_BODY": (
        "400",
        json.dumps(
            {
                "error": f"The request body must be a JSON object whose {', '.join(REGISTER_BODY_FIELDS[:-1])} and "
                f"{REGISTER_BODY_FIELDS[-1]} are strings of at most {REGISTER_FIELD_MAX_LENGTH} characters.",
                "fields": {FIELD_BODY: "does not match the expected JSON shape"},
            }
        ),
    ),
    "THROTTLED": ("429", '{"error": "Too many requests: please slow down and retry in a few seconds."}'),
    "QUOTA_EXCEEDED": ("429", '{"error": "This API key has used its quota for the current period."}'),
    "REQUEST_TOO_LARGE": ("413", '{"error": "The request body is too large."}'),
}


def gateway_error_headers(allowed_origin: str) -> dict[str, str]:
    """The headers on every error API Gateway answers itself: the signup site's origin (so the
    page can read a throttling or 5xx answer instead of seeing an opaque CORS failure) and
    no-store, like every answer of the functions (an error must not be cached either)."""
    return {"Access-Control-Allow-Origin": allowed_origin, "Vary": "Origin", "Cache-Control": "no-store"}


def render(response_type: str, status: int, message: str) -> bytes:
    """The body API Gateway would answer for `response_type` (falling back to DEFAULT_4XX/5XX
    like API Gateway does), with `message` as $context.error.messageString."""
    fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    _, template = GATEWAY_ERRORS.get(response_type, GATEWAY_ERRORS[fallback])
    return template.replace(MESSAGE_VARIABLE, json.dumps(message)).encode()
