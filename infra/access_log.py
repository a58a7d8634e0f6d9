"""The API Gateway access-log format that feeds Moesif: one source of truth, plain data.

The stage (infra/log_forwarding.py) writes it through Firehose to Moesif, and the local gateway
(localdev) renders the very same records, so `make dev` shows what production would send.

Field names are Moesif's, checked against two of Moesif's own sources: the JSON log format of its
AWS API Gateway integration guide (apiId, requestId, requestTime, protocol, httpMethod,
resourcePath, requestHostHeader, requestUserAgentHeader, ip, status, responseLength, durationMs,
caller, user, principalId, cognitoIdentityId), and moesif-firehose-transform-lambda, which
recognises an API Gateway record by the same names (all but ip and the four identity fields)
and reads its user from `user`, then `apiKeyId`, `principalId`, `cognitoIdentityId`, `caller`. One deliberate change: Moesif's
sample maps `user` to `$context.identity.user` (an IAM user) and also logs
`"apiKey": "$context.identity.apiKey"`, a key's secret VALUE. We set `user` (and `principalId`) to
`$context.authorizer.principalId`, the account id the Lambda authorizer resolved the customer's key
to (tollgate.handlers.authorizer), which is what the register flow names the Moesif user; `keyHint`
says which of the account's keys called (its last 4 characters); `apiKeyId` is the account's one API
Gateway key, which metering maps to the account. No key value leaves AWS: `$context.identity.apiKey`
(with key source AUTHORIZER, the usage key's value) appears nowhere in this module.

The usage reporter (lambda_src, which cannot import infra/) reads some of these fields to bill
calls: their names are contract.ACCESS_LOG_*, used as the keys below, so the two cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tollgate import contract

CONTEXT_PREFIX = "$context."
PRINCIPAL_ID = "principalId"  # $context.authorizer.principalId: what the authorizer names the caller

# Moesif field name -> API Gateway context variable (without the "$context." prefix).
FIELDS: dict[str, str] = {
    "apiId": "apiId",
    contract.ACCESS_LOG_REQUEST_ID: "requestId",
    "requestTime": "requestTime",
    contract.ACCESS_LOG_REQUEST_TIME_EPOCH: "requestTimeEpoch",
    "protocol": "protocol",
    contract.ACCESS_LOG_HTTP_METHOD: "httpMethod",
    contract.ACCESS_LOG_RESOURCE_PATH: "resourcePath",
    contract.ACCESS_LOG_PATH: "path",
    "stage": "stage",
    "requestHostHeader": "domainName",
    "requestUserAgentHeader": "identity.userAgent",
    "ip": "identity.sourceIp",
    contract.ACCESS_LOG_STATUS: "status",
    "responseLength": "responseLength",
    "durationMs": "responseLatency",
    contract.ACCESS_LOG_INTEGRATION_LATENCY: "integrationLatency",
    contract.ACCESS_LOG_ERROR_RESPONSE_TYPE: "error.responseType",
    "caller": "identity.caller",
    # The account: the authorizer's principal (its opaque account id, never the email) is the Moesif user.
    contract.ACCESS_LOG_PRINCIPAL_ID: f"authorizer.{PRINCIPAL_ID}",
    "cognitoIdentityId": "identity.cognitoIdentityId",
    "user": f"authorizer.{PRINCIPAL_ID}",
    # Which of the account's keys called: its hint (last 4 characters), never the key.
    "keyHint": f"authorizer.{contract.AUTHORIZER_CONTEXT_KEY_HINT}",
    # The account's usage key (its one API Gateway key): what metering maps to the account.
    contract.ACCESS_LOG_API_KEY_ID: "identity.apiKeyId",
}

# What API Gateway writes for a context variable that has no value in this request.
MISSING_VALUE = contract.ACCESS_LOG_MISSING_VALUE


def format_string() -> str:
    """The single-line JSON format for the stage's AccessLogSetting (`$context.requestId` is required)."""
    return json.dumps(
        {field: f"{CONTEXT_PREFIX}{variable}" for field, variable in FIELDS.items()},
        separators=(",", ":"),
    )


def record(context: Mapping[str, Any]) -> dict[str, str]:
    """The record API Gateway would log, from context values keyed like FIELDS' values.

    `context` uses the variable names without the prefix, e.g. {"requestId": "...",
    "identity.apiKeyId": "..."}; absent or empty values become "-" as API Gateway writes them.
    """
    rendered: dict[str, str] = {}
    for field, variable in FIELDS.items():
        value = context.get(variable)
        rendered[field] = MISSING_VALUE if value is None or value == "" else str(value)
    return rendered


def render(context: Mapping[str, Any]) -> str:
    """One access-log line (JSON), exactly what the stage hands to Firehose for this request."""
    return json.dumps(record(context), separators=(",", ":"))
