"""What API Gateway answers by itself, as plain data (no CDK import): the bodies of its error
answers (bad key, throttling, quota, bad body, 5xx), the headers it puts on them, and the
`/register` body model it checks before any Lambda runs (on `/register` and its twin on the site,
`/api/register`).

infra/gateway.py installs them on the stage (gateway responses, request model) and localdev/gateway.py
applies the same ones, so a client sees one error shape, `{"error": ..., "fields": {...}}` where a
field is at fault, with the same headers, in production and in `make dev`.

An account past its quota, or over another usage limit (tollgate.domain.usage_limit: the key authorizer
then answers a "limit reached" key whose usage plan allows no call, so this same response answers),
gets a body that says why (`error`, and `code`: contract.USAGE_LIMIT_*), until when (`until`, ISO 8601
UTC; "" when it is the usage plan's own quota, whose period API Gateway keeps), links the account
page (`accountUrl`, where the customer sees their plan and can upgrade) and names the account
(`accountId`, the opaque id the key authorizer answers as principalId: $context.authorizer.principalId).
The message, code and end come from the authorizer's context ($context.authorizer.<key>, substituted
in gateway response templates like principalId), which the authorizer fills on every allow. The quota is the account's (every
key of it spends its one usage key's), and the usage key's id is never shown to a customer, so the
body does not name it. It cannot name the plan: a gateway response belongs to the REST API,
shared by every usage plan, and its template is not VTL, only substitution of $context variables,
$stageVariables and method request parameters
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-gatewayResponse-definition.html);
no $context variable names the usage plan
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
QUOTA_EXCEEDED comes after the authorizer has allowed the call, so the principal is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tollgate import contract
from tollgate.domain.validation import FIELD_BODY, FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME

REGISTER_BODY_FIELDS = (FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME)
# A generous upper bound: the gateway only stops abuse-sized fields; the register Lambda applies
# the real (tighter) rules and names the offending field.
REGISTER_FIELD_MAX_LENGTH = 512
# The /register request model (JSON Schema draft 4, the draft API Gateway models use). Only the
# shape: a flat object whose known fields are strings of bounded length. No `required`: a missing
# field gets the Lambda's detailed 400 naming it.
#
# Flat: every other field must be a plain value, never an object or array, so a nested body gets
# this model's 400 (BAD_REQUEST_BODY) at any depth. AWS documents no nesting limit for body
# validation, only that a request failing it gets a 400 and never reaches the integration
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html),
# and a 10 MB payload limit (API Gateway quotas). Whether its validator parses 100,000 levels or
# gives up earlier, a body nested even once fails this model, so the answer is the same 400 either
# way; the local gateway relies on the same fact when its parser runs out of recursion.
JSON_SCHEMA_DRAFT4 = "http://json-schema.org/draft-04/schema#"
REGISTER_BODY_CONTENT_TYPE = "application/json"
PLAIN_JSON_VALUE_TYPES = ["string", "number", "boolean", "null"]
REGISTER_BODY_ROUTES = (contract.ROUTE_REGISTER, contract.ROUTE_SITE_REGISTER)  # the routes the model guards
REGISTER_BODY_MODEL: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DRAFT4,
    "type": "object",
    "properties": {field: {"type": "string", "maxLength": REGISTER_FIELD_MAX_LENGTH} for field in REGISTER_BODY_FIELDS},
    "additionalProperties": {"type": PLAIN_JSON_VALUE_TYPES},
}

MESSAGE_VARIABLE = "$context.error.messageString"  # API Gateway substitutes a quoted JSON string
AUTHORIZER_VARIABLE_PREFIX = "$context.authorizer."  # + a context key, or principalId: substituted as is
PRINCIPAL_ID = "principalId"
ACCOUNT_ID_VARIABLE = AUTHORIZER_VARIABLE_PREFIX + PRINCIPAL_ID  # substituted as is: the template quotes it

# What a client without a valid key has always been answered (API Gateway's INVALID_API_KEY is a 403
# whose message is "Forbidden", through DEFAULT_4XX): the authorizer's refusals keep it (below).
FORBIDDEN_BODY = json.dumps({"error": "Forbidden"})

# Keys are API Gateway response types; values are (status override or None, body template).
_FIXED_ERRORS: dict[str, tuple[str | None, str]] = {
    "DEFAULT_4XX": (None, f'{{"error": {MESSAGE_VARIABLE}}}'),
    # The Lambda authorizer's refusals (infra/authorizer.py): no x-api-key header (API Gateway's 401,
    # without calling the authorizer) and a key the authorizer denies (403, "... explicit deny") both
    # answer what a missing or bad key got before the authorizer: 403 {"error": "Forbidden"}. Whether
    # the key is unknown, revoked or its account suspended is never told to whoever presents it.
    "UNAUTHORIZED": ("403", FORBIDDEN_BODY),
    "ACCESS_DENIED": ("403", FORBIDDEN_BODY),
    "DEFAULT_5XX": (None, '{"error": "The service had a problem; please try again in a minute."}'),
    "BAD_REQUEST_BODY": (
        "400",
        json.dumps(
            {
                "error": f"The request body must be a flat JSON object (no object or array inside it) whose "
                f"{', '.join(REGISTER_BODY_FIELDS[:-1])} and {REGISTER_BODY_FIELDS[-1]} are strings of at most "
                f"{REGISTER_FIELD_MAX_LENGTH} characters.",
                "fields": {FIELD_BODY: "does not match the expected JSON shape"},
            }
        ),
    ),
    "THROTTLED": ("429", '{"error": "Too many requests: please slow down and retry in a few seconds."}'),
    "REQUEST_TOO_LARGE": ("413", '{"error": "The request body is too large."}'),
}


def account_url(site_origin: str) -> str:
    """The signup site's account page: the customer's plan, usage and the way to upgrade."""
    return f"{site_origin}/{contract.ACCOUNT_PAGE}"


def gateway_errors(site_origin: str) -> dict[str, tuple[str | None, str]]:
    """Every gateway response of the stage, by response type: (status override or None, body
    template). Only the quota's depends on the deployment: it links the site's account page."""
    quota_exceeded = json.dumps(
        {
            "error": AUTHORIZER_VARIABLE_PREFIX + contract.AUTHORIZER_CONTEXT_USAGE_LIMIT_MESSAGE,
            "code": AUTHORIZER_VARIABLE_PREFIX + contract.AUTHORIZER_CONTEXT_USAGE_LIMIT,
            "until": AUTHORIZER_VARIABLE_PREFIX + contract.AUTHORIZER_CONTEXT_USAGE_LIMIT_UNTIL,
            "accountUrl": account_url(site_origin),
            "accountId": ACCOUNT_ID_VARIABLE,
        }
    )
    return {**_FIXED_ERRORS, "QUOTA_EXCEEDED": ("429", quota_exceeded)}


def gateway_error_headers() -> dict[str, str]:
    """The headers on every error API Gateway answers itself: no-store, like every answer of the
    functions (an error must not be cached either). No CORS header: the signup page reads these
    answers on its own origin (`/api/...` through CloudFront)."""
    return {"Cache-Control": "no-store"}


def status_of(response_type: str, status: int, site_origin: str) -> int:
    """The status the stage answers for `response_type`: its gateway response's override, else `status`
    (what API Gateway gives it)."""
    override, _ = gateway_errors(site_origin).get(response_type, (None, ""))
    return int(override) if override else status


def render(
    response_type: str, status: int, message: str, site_origin: str, authorizer: Mapping[str, str] | None = None
) -> bytes:
    """The body API Gateway would answer for `response_type` (falling back to DEFAULT_4XX/5XX
    like API Gateway does), with `message` as $context.error.messageString and `authorizer` (the
    principalId and the context of the authorizer's allow) as $context.authorizer.<name>: empty
    where the request has none."""
    fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    errors = gateway_errors(site_origin)
    _, template = errors.get(response_type, errors[fallback])
    body = template.replace(MESSAGE_VARIABLE, json.dumps(message))
    return re.sub(
        re.escape(AUTHORIZER_VARIABLE_PREFIX) + r"(\w+)",
        lambda variable: (authorizer or {}).get(variable.group(1), ""),
        body,
    ).encode()
