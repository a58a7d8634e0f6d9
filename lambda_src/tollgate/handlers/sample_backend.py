"""The built-in sample backend: what a fresh deploy proxies metered calls to when no backend_url
is configured, so the whole flow works end to end before you plug in your own API.

Answers any method and path with a JSON echo of the method, the path and the caller's API key
id (never the key value), as API Gateway's Lambda proxy integration hands them over.
"""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    body = {
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "apiKeyId": identity.get("apiKeyId"),
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
