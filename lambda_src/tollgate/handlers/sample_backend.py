"""The built-in sample backend: what a fresh deploy proxies metered calls to when no backend is
configured, so the whole flow works end to end before you plug in your own API.

It is deployed the way your own `backend_url` is called: behind a public Lambda function URL, over
HTTPS from the stage (infra/backend.py). So it does what your backend must do: refuse, with 403,
any call without the gateway's secret header (contract.BACKEND_SECRET_HEADER) - its URL is public,
and a direct call would skip keys, metering and billing - accepting the secret's current and
previous value, so a rotation never refuses the gateway (tollgate.adapters.origin_secret).

Answers any other call with a JSON echo of the method, the path, the caller's account id and its
account's API key id (the stage sends them in contract.BACKEND_ACCOUNT_ID_HEADER and
BACKEND_API_KEY_ID_HEADER; never a key value). Events are Lambda
function URL events (payload format 2.0).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.origin_secret import OriginSecret
from tollgate.domain.errors import DownstreamError

NOT_THROUGH_THE_GATEWAY = "Forbidden: call this API through its gateway, with your API key."


@cache
def origin_secret() -> OriginSecret:
    """The backend secret named by the stack (built once per Lambda instance)."""
    return OriginSecret(AwsClients().client("secretsmanager"), os.environ[contract.ENV_BACKEND_SECRET_ARN])


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        through_the_gateway = origin_secret().accepts(headers.get(contract.BACKEND_SECRET_HEADER))
    except DownstreamError:
        return _json(503, {"error": "The sample backend cannot check the gateway's secret right now."})
    if not through_the_gateway:
        return _json(403, {"error": NOT_THROUGH_THE_GATEWAY})
    http = (event.get("requestContext") or {}).get("http") or {}
    return _json(
        200,
        {
            "method": http.get("method"),
            "path": event.get("rawPath"),
            "accountId": headers.get(contract.BACKEND_ACCOUNT_ID_HEADER),
            "apiKeyId": headers.get(contract.BACKEND_API_KEY_ID_HEADER),
        },
    )


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
