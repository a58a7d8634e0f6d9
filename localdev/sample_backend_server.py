"""The sample backend as `make dev` runs it: the real handler (tollgate.handlers.sample_backend)
behind a local HTTP port, the way the stack puts it behind a Lambda function URL. The local API
Gateway proxies metered calls to it with the gateway's secret header, as the stage does; a call
straight to its port without the header gets the handler's 403, as a call to the function URL would.

Each request becomes a function URL event (payload format 2.0: rawPath, rawQueryString, lower-case
headers, requestContext.http) and the handler's answer is written back as is.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from localdev.console import FunctionLogs
from localdev.lambda_runtime import LocalFunction
from localdev.net import AnyMethodHttpServer, UnreadableBody, read_request_body
from tollgate import contract

REQUEST_BODY_TIMEOUT_SECONDS = 5.0


def function_url_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event a Lambda function URL hands its function for this request."""
    split = urlsplit(target)
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "http": {
                "method": method,
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent", ""),
            },
            "timeEpoch": int(now.timestamp() * 1000),
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


class SampleBackendServer(AnyMethodHttpServer):
    """`with SampleBackendServer(port=0) as backend: backend.url` (its handler reads the backend
    secret named by contract.ENV_BACKEND_SECRET_ARN in this process's environment)."""

    what = "Sample backend"
    server_header = "tollgate-local-sample-backend"

    def __init__(self, port: int = 0, function_logs: FunctionLogs | None = None) -> None:
        super().__init__(port)
        self._function = LocalFunction(contract.HANDLER_SAMPLE_BACKEND, function_logs)

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        try:
            body = read_request_body(http, REQUEST_BODY_TIMEOUT_SECONDS)
        except UnreadableBody:
            http.close_connection = True
            return
        event = function_url_event(http.command, http.path, dict(http.headers.items()), body, http.client_address[0])
        result = self._function.invoke(event)
        answer = (result.get("body") or "").encode()
        if result.get("isBase64Encoded"):
            answer = base64.b64decode(answer)
        http.send_response(int(result.get("statusCode", 200)))
        for name, value in (result.get("headers") or {}).items():
            http.send_header(name, str(value))
        http.send_header("Content-Length", str(len(answer)))
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(answer)
