"""The bodies API Gateway answers by itself (bad key, throttling, quota, bad body, 5xx).

Plain data, no CDK import: infra/api.py installs them as the stage's gateway responses and
localdev/gateway.py renders the same bodies, so a client sees one error shape,
`{"error": ..., "fields": {...}}` where a field is at fault, in production and in `make dev`.
Keys are API Gateway response types; values are (status override or None, body template).
"""

from __future__ import annotations

import json

from tollgate.domain.validation import FIELD_BODY, FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME

REGISTER_BODY_FIELDS = (FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME)
# A generous upper bound: the gateway only stops abuse-sized fields; the register Lambda applies
# the real (tighter) rules and names the offending field.
REGISTER_FIELD_MAX_LENGTH = 512
MESSAGE_VARIABLE = "$context.error.messageString"  # API Gateway substitutes a quoted JSON string

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


def render(response_type: str, status: int, message: str) -> bytes:
    """The body API Gateway would answer for `response_type` (falling back to DEFAULT_4XX/5XX
    like API Gateway does), with `message` as $context.error.messageString."""
    fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    _, template = GATEWAY_ERRORS.get(response_type, GATEWAY_ERRORS[fallback])
    return template.replace(MESSAGE_VARIABLE, json.dumps(message)).encode()
