"""A local stand-in for the stack's API Gateway REST API, for `make dev` and the tests.

It does what the deployed stage does, on a loopback port of its own (a separate origin from the
signup site, so the browser really does CORS):

- `POST /register`, `/billing/checkout`, `/stripe/webhook` invoke the real Lambda handlers in
  this process with a REST-API proxy event (the process plays the Lambda runtime);
- `OPTIONS` on the browser-facing routes answers the CORS preflight with the signup origin, as
  the stage's mock preflight integration does;
- every other path and method is metered: the `x-api-key` must belong to an enabled key of the
  usage plan (checked against the emulated API Gateway on every request, no cache, so a key
  disabled by the webhook is refused on the very next call), then the request goes to
  `backend_url` or to the sample backend handler;
- each request produces one access-log record in the stage's own format (infra/access_log.py),
  delivered to the Moesif collector as Firehose's HTTP-endpoint delivery would.

Usage-plan throttling and quotas are not emulated.
"""

from __future__ import annotations

import base64
import hmac
import importlib
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from infra import access_log, gateway_errors
from localdev.net import BackgroundHttpServer
from tollgate import contract

log = logging.getLogger(__name__)

FUNCTION_ROUTES = {
    contract.ROUTE_REGISTER: contract.HANDLER_REGISTER,
    contract.ROUTE_CHECKOUT: contract.HANDLER_CHECKOUT,
    contract.ROUTE_STRIPE_WEBHOOK: contract.HANDLER_STRIPE_WEBHOOK,
}
LAMBDA_TIMEOUT_SECONDS = 29  # API Gateway's integration timeout
FIREHOSE_TIMEOUT_SECONDS = 5
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade", "host", "content-length"}


@dataclass(frozen=True)
class GatewayDeployment:
    """What the gateway needs to know about the emulated deployment (made by localdev.bootstrap)."""

    rest_api_id: str
    stage_name: str
    usage_plan_id: str
    allowed_origin: str  # the signup site's origin
    backend_url: str | None  # None: the sample backend handler answers metered calls
    firehose_url: str  # where access-log records are delivered (the Moesif collector)
    firehose_access_key: str  # the Moesif application id, from the secret


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    error_type: str | None = None
    api_key_id: str | None = None
    integration_ms: int | None = None


class _LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, handler_path: str) -> None:
        name = handler_path.rsplit(".", 2)[-2]
        self.function_name = f"tollgate-dev-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "localdev"
        self._deadline = time.monotonic() + LAMBDA_TIMEOUT_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _LocalFunction:
    """One Lambda function: imported on first use (its cold start), and ONE invocation at a time
    across all functions of this process. Every real Lambda instance has its own process, and
    Powertools relies on that: its event handler keeps the current event in class attributes
    (BaseRouter.current_event), so two handlers running at once in one process would read each
    other's request."""

    _one_invocation_at_a_time = threading.Lock()

    def __init__(self, handler_path: str) -> None:
        self.handler_path = handler_path
        self._handler: Callable[[dict, Any], dict] | None = None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._one_invocation_at_a_time:
            if self._handler is None:
                module_name, function_name = self.handler_path.rsplit(".", 1)
                self._handler = getattr(importlib.import_module(module_name), function_name)
            return self._handler(event, _LambdaContext(self.handler_path))


class _FirehoseDelivery:
    """Delivers access-log lines to an HTTP endpoint in Firehose's request format, off the
    request path (Firehose buffers too), one record per POST so records arrive promptly."""

    def __init__(self, url: str, access_key: str) -> None:
        self._url = url
        self._access_key = access_key
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="firehose-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=FIREHOSE_TIMEOUT_SECONDS + 1)

    def put(self, line: str) -> None:
        self._queue.put(line)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            request_id = str(uuid.uuid4())
            body = json.dumps({
                "requestId": request_id,
                "timestamp": int(time.time() * 1000),
                "records": [{"data": base64.b64encode((line + "\n").encode()).decode()}],
            }).encode()
            request = urllib.request.Request(self._url, data=body, method="POST", headers={
                "Content-Type": "application/json",
                "X-Amz-Firehose-Protocol-Version": "1.0",
                "X-Amz-Firehose-Request-Id": request_id,
                "X-Amz-Firehose-Access-Key": self._access_key,
            })
            try:
                urllib.request.urlopen(request, timeout=FIREHOSE_TIMEOUT_SECONDS).close()
            except (urllib.error.URLError, OSError) as error:
                log.warning("access-log delivery to %s failed: %s", self._url, error)


class LocalGateway(BackgroundHttpServer):
    """`with LocalGateway(deployment, apigateway_client, port=8001) as api: api.url`."""

    what = "Local API Gateway"

    def __init__(self, deployment: GatewayDeployment, apigateway_client: Any, port: int = 0) -> None:
        super().__init__(port)
        self._deployment = deployment
        self._apigateway = apigateway_client
        self._functions = {route: _LocalFunction(path) for route, path in FUNCTION_ROUTES.items()}
        self._sample_backend = _LocalFunction(contract.HANDLER_SAMPLE_BACKEND)
        self._firehose = _FirehoseDelivery(deployment.firehose_url, deployment.firehose_access_key)

    def start(self) -> LocalGateway:
        self._firehose.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._firehose.stop()

    # ---- the API key check --------------------------------------------------------------------

    def enabled_key_id(self, presented: str | None) -> str | None:
        """The id of the usage plan's enabled key whose value is `presented`, else None.

        Asked of the emulated API Gateway on every call: API Gateway itself applies a disabled
        key at once, and so must we.
        """
        if not presented:
            return None
        pages = self._apigateway.get_paginator("get_usage_plan_keys").paginate(
            usagePlanId=self._deployment.usage_plan_id)
        for page in pages:
            for item in page.get("items", []):
                if hmac.compare_digest(item.get("value", "").encode(), presented.encode()):
                    key = self._apigateway.get_api_key(apiKey=item["id"])
                    return item["id"] if key.get("enabled") else None
        return None

    # ---- request handling ----------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                """Quiet: the access log goes to the Moesif collector, as in production."""

            def version_string(self) -> str:
                return "tollgate-local-apigateway"

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
                gateway._serve(self)
                self.wfile.flush()

        return Handler

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        requested_at = datetime.now(timezone.utc)
        request_id = str(uuid.uuid4())
        split = urlsplit(http.path)
        path = split.path or "/"
        headers = {name: value for name, value in http.headers.items()}
        body = http.rfile.read(int(http.headers.get("Content-Length") or 0))
        resource = path if path in FUNCTION_ROUTES else ("/" if path == "/" else "/{proxy+}")
        context = {
            "requestId": request_id, "path": path, "resource": resource, "method": http.command,
            "query": split.query, "headers": headers, "body": body, "requestedAt": requested_at,
            "sourceIp": http.client_address[0],
        }
        try:
            reply = self._route(context)
        except Exception:  # noqa: BLE001 - API Gateway turns any integration failure into a 502
            log.exception("integration failed for %s %s", http.command, path)
            reply = _gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
        reply.headers.setdefault("Content-Type", "application/json")
        reply.headers["x-amzn-RequestId"] = request_id
        http.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                http.send_header(name, value)
        http.send_header("Content-Length", str(len(reply.body)))
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(reply.body)
        self._log_access(context, reply, latency_ms=int((time.monotonic() - started) * 1000))

    def _route(self, request: dict[str, Any]) -> _Reply:
        path, method = request["path"], request["method"]
        if path in FUNCTION_ROUTES:
            if method == "OPTIONS" and path in contract.CORS_ROUTES:
                return self._preflight()
            if method != "POST":
                return _gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
            return self._invoke(self._functions[path], request, api_key_id=None)
        presented = next((v for k, v in request["headers"].items() if k.lower() == contract.API_KEY_HEADER), None)
        key_id = self.enabled_key_id(presented)
        if key_id is None:
            return _gateway_error(403, "INVALID_API_KEY", "Forbidden")
        request["apiKey"] = presented
        reply = self._proxy(request) if self._deployment.backend_url else self._invoke(
            self._sample_backend, request, api_key_id=key_id)
        reply.api_key_id = key_id
        return reply

    def _preflight(self) -> _Reply:
        return _Reply(204, {
            "Access-Control-Allow-Origin": self._deployment.allowed_origin,
            "Access-Control-Allow-Headers": ",".join(contract.CORS_ALLOWED_HEADERS),
            "Access-Control-Allow-Methods": ",".join(contract.CORS_ALLOWED_METHODS),
            "Access-Control-Max-Age": str(contract.CORS_MAX_AGE_SECONDS),
            "Vary": "Origin",
        }, b"")

    def proxy_event(self, request: dict[str, Any], api_key_id: str | None) -> dict[str, Any]:
        """The REST API (v1) Lambda proxy event API Gateway would send for this request."""
        headers: dict[str, str] = request["headers"]
        multi_query = parse_qs(request["query"], keep_blank_values=True) or None
        body: bytes = request["body"]
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        stage = self._deployment.stage_name
        requested_at: datetime = request["requestedAt"]
        return {
            "resource": request["resource"],
            "path": request["path"],
            "httpMethod": request["method"],
            "headers": headers or None,
            "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": ({"proxy": request["path"].lstrip("/")}
                               if request["resource"] == "/{proxy+}" else None),
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": self._deployment.rest_api_id,
                "domainName": headers.get("Host", ""),
                "httpMethod": request["method"],
                "path": f"/{stage}{request['path']}",
                "protocol": "HTTP/1.1",
                "requestId": request["requestId"],
                "requestTime": _request_time(requested_at),
                "requestTimeEpoch": int(requested_at.timestamp() * 1000),
                "resourceId": "local",
                "resourcePath": request["resource"],
                "stage": stage,
                "identity": {
                    "sourceIp": request["sourceIp"],
                    "userAgent": headers.get("User-Agent"),
                    "apiKey": request.get("apiKey") if api_key_id else None,
                    "apiKeyId": api_key_id,
                    "caller": None, "user": None, "accountId": None, "cognitoIdentityId": None,
                },
            },
            "body": text if body else None,
            "isBase64Encoded": is_base64,
        }

    def _invoke(self, function: _LocalFunction, request: dict[str, Any], api_key_id: str | None) -> _Reply:
        started = time.monotonic()
        result = function.invoke(self.proxy_event(request, api_key_id))
        integration_ms = int((time.monotonic() - started) * 1000)
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            log.error("%s returned a malformed proxy response: %r", function.handler_path, result)
            return _gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(str(v) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return _Reply(result["statusCode"], headers, body, integration_ms=integration_ms)

    def _proxy(self, request: dict[str, Any]) -> _Reply:
        """HTTP_PROXY integration: forward to backend_url + path, return the answer as is."""
        target = self._deployment.backend_url.rstrip("/") + request["path"]
        if request["query"]:
            target += "?" + request["query"]
        headers = {k: v for k, v in request["headers"].items() if k.lower() not in _HOP_BY_HOP}
        outbound = urllib.request.Request(target, data=request["body"] or None, method=request["method"],
                                          headers=headers)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(outbound, timeout=LAMBDA_TIMEOUT_SECONDS) as response:
                status, response_headers, body = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, body = error.code, dict(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError) as error:
            log.warning("backend %s unreachable: %s", target, error)
            return _gateway_error(504, "INTEGRATION_TIMEOUT", "Endpoint request timed out")
        headers = {k: v for k, v in response_headers.items() if k.lower() not in _HOP_BY_HOP}
        return _Reply(status, headers, body, integration_ms=int((time.monotonic() - started) * 1000))

    # ---- access log -----------------------------------------------------------------------------

    def _log_access(self, request: dict[str, Any], reply: _Reply, latency_ms: int) -> None:
        requested_at: datetime = request["requestedAt"]
        headers: dict[str, str] = request["headers"]
        line = access_log.render({
            "apiId": self._deployment.rest_api_id,
            "requestId": request["requestId"],
            "requestTime": _request_time(requested_at),
            "requestTimeEpoch": int(requested_at.timestamp() * 1000),
            "protocol": "HTTP/1.1",
            "httpMethod": request["method"],
            "resourcePath": request["resource"],
            "path": f"/{self._deployment.stage_name}{request['path']}",
            "stage": self._deployment.stage_name,
            "domainName": headers.get("Host"),
            "identity.userAgent": headers.get("User-Agent"),
            "identity.sourceIp": request["sourceIp"],
            "status": reply.status,
            "responseLength": len(reply.body),
            "responseLatency": latency_ms,
            "integrationLatency": reply.integration_ms,
            "error.responseType": reply.error_type,
            "identity.apiKeyId": reply.api_key_id,
        })
        self._firehose.put(line)


def _gateway_error(status: int, error_type: str, message: str) -> _Reply:
    """An error API Gateway answers itself, with the body the stage's gateway responses give it."""
    body = gateway_errors.render(error_type, status, message)
    return _Reply(status, {"Content-Type": "application/json"}, body, error_type=error_type)


def _request_time(moment: datetime) -> str:
    """$context.requestTime's CLF format, e.g. 25/Nov/2026:12:30:52 +0000."""
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
