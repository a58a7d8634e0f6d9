"""A local stand-in for the stack's API Gateway REST API, for `make dev` and the tests.

It does what the deployed stage does, on a loopback port of its own (the signup site reaches its
`/api/...` routes through the site server, on the site's own origin, as CloudFront does):

- `POST /register`, `/billing/checkout`, `/billing/checkout/outcome`, `/stripe/webhook` and the signup
  site's `/api/...` routes (contract.SITE_ROUTES, each with its own method) invoke the real Lambda
  handlers in this process with a REST-API proxy event (localdev.lambda_runtime plays the Lambda
  runtime), after the stage's `/register` body model (infra/gateway_errors.py) where it applies;
- request bodies are read whole, chunked or not; a client that sends less than it announced is
  disconnected after REQUEST_BODY_TIMEOUT_SECONDS of silence;
- every error the gateway answers itself (403, 400 bad body, 502, 504) has the stage's
  gateway-response body and headers (no-store);
- every other path and method is metered: the stage's Lambda authorizer runs first, the real
  handler with the stage's identity source and result cache (localdev.authorizer; a refusal is the
  stage's gateway response), then its `usageIdentifierKey` must be an enabled key of a usage plan
  (the API's key source is AUTHORIZER; checked against the emulated API Gateway on every request,
  so a key disabled as the second line is refused on the very next call), then the request is
  proxied over HTTP to the backend (`backend_url`, or the sample backend's local port) with the
  stage's integration headers: the backend secret (contract.BACKEND_SECRET_HEADER) and the usage
  key's id, replacing any the client sent, as API Gateway's request-parameter mapping does (infra/backend.py);
- each request produces one access-log record in the stage's own format (infra/access_log.py, the
  authorizer's principal and key hint included),
  delivered to the Moesif collector as Firehose's HTTP-endpoint delivery would, and backed up to
  the usage ledger (`ledger`, localdev.firehose.LedgerBackup) as Firehose's S3 backup would;
- every call that passed the key check counts against its usage key's quota (`usage`,
  localdev.usage_plan_usage: the plan's quota per period); a key
  with none left is answered 429 (the QUOTA_EXCEEDED gateway response: the account's id and the site's
  account page) and the call is neither counted nor proxied, as API Gateway does.

Usage-plan throttling is not emulated.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fastjsonschema

from infra import access_log, gateway_errors
from localdev.authorizer import Authorized, LocalAuthorizer, Refused, method_arn
from localdev.console import REQUEST_LOG, FunctionLogs
from localdev.firehose import FirehoseDelivery, LedgerBackup
from localdev.lambda_runtime import LAMBDA_TIMEOUT_SECONDS, LocalFunction
from localdev.net import AnyMethodHttpServer, UnreadableBody, read_request_body
from localdev.usage_plan_usage import UsageCounters
from tollgate import contract

log = logging.getLogger(__name__)

FUNCTION_ROUTES = {
    contract.ROUTE_REGISTER: contract.HANDLER_REGISTER,
    contract.ROUTE_CHECKOUT: contract.HANDLER_CHECKOUT,
    contract.ROUTE_CHECKOUT_OUTCOME: contract.HANDLER_CHECKOUT,
    contract.ROUTE_STRIPE_WEBHOOK: contract.HANDLER_STRIPE_WEBHOOK,
    **contract.SITE_ROUTE_HANDLERS,
}
# The one method each function route has on the stage (infra/gateway.py); any other is API Gateway's 403.
ROUTE_METHODS = {**{route: "POST" for route in contract.PUBLIC_ROUTES}, **contract.SITE_ROUTES}
# The stage's request models (infra/gateway.py): route -> media type -> compiled JSON-schema check.
REQUEST_MODELS = {
    route: {gateway_errors.REGISTER_BODY_CONTENT_TYPE: fastjsonschema.compile(gateway_errors.REGISTER_BODY_MODEL)}
    for route in gateway_errors.REGISTER_BODY_ROUTES
}
# How long a client may stay silent before the body it announced is complete. API Gateway
# documents no figure; a few seconds frees the connection where a local server would hold it forever.
REQUEST_BODY_TIMEOUT_SECONDS = 5.0
# API Gateway assumes this media type for a request without Content-Type (its docs on integration
# passthrough behaviours: "None — API Gateway defaults to application/json").
DEFAULT_MEDIA_TYPE = "application/json"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass(frozen=True)
class GatewayDeployment:
    """What the gateway needs to know about the emulated deployment (made by localdev.bootstrap)."""

    rest_api_id: str
    stage_name: str
    usage_plan_ids: tuple[str, ...]  # one per plan; a key is in one of them
    site_origin: str  # the signup site's origin: the quota answer links its account page
    backend_url: str  # where metered calls are proxied (the sample backend's local port by default)
    firehose_url: str  # where access-log records are delivered (the Moesif collector)
    firehose_access_key: str  # the Moesif application id, from the secret
    backend_secret: str | None = None  # the backend secret's value, sent in contract.BACKEND_SECRET_HEADER
    authorizer_cache_seconds: int = contract.DEFAULT_AUTHORIZER_CACHE_SECONDS  # the setting of the same name


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    error_type: str | None = None
    api_key_id: str | None = None
    integration_ms: int | None = None
    principal_id: str | None = None  # $context.authorizer.principalId
    authorizer_context: dict[str, str] | None = None  # $context.authorizer.<name>


class LocalGateway(AnyMethodHttpServer):
    """`with LocalGateway(deployment, apigateway_client, port=8001) as api: api.url`.

    `function_logs`: make dev's console view of the functions' logs (None: as Powertools writes them);
    `clock`: what the authorizer's result cache expires on.
    """

    what = "Local API Gateway"
    server_header = "tollgate-local-apigateway"

    def __init__(
        self,
        deployment: GatewayDeployment,
        apigateway_client: Any,
        port: int = 0,
        function_logs: FunctionLogs | None = None,
        ledger: LedgerBackup | None = None,
        usage: UsageCounters | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(port)
        self._deployment = deployment
        self._apigateway = apigateway_client
        self._functions = {route: LocalFunction(path, function_logs) for route, path in FUNCTION_ROUTES.items()}
        self.authorizer = LocalAuthorizer(
            LocalFunction(contract.HANDLER_AUTHORIZER, function_logs), deployment.authorizer_cache_seconds, clock
        )
        self._firehose = FirehoseDelivery(deployment.firehose_url, deployment.firehose_access_key, ledger)
        self._usage = usage

    def start(self) -> LocalGateway:
        self._firehose.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._firehose.stop()

    # ---- the API key check --------------------------------------------------------------------

    def enabled_key_id(self, presented: str | None) -> tuple[str, str] | None:
        """(key id, usage plan id) of the enabled key in a usage plan whose value is `presented` (the
        authorizer's usageIdentifierKey), else None.

        Asked of the emulated API Gateway on every call: API Gateway itself applies a disabled
        key at once, and so must we.
        """
        if not presented:
            return None
        for usage_plan_id in self._deployment.usage_plan_ids:
            pages = self._apigateway.get_paginator("get_usage_plan_keys").paginate(usagePlanId=usage_plan_id)
            for page in pages:
                for item in page.get("items", []):
                    if hmac.compare_digest(item.get("value", "").encode(), presented.encode()):
                        key = self._apigateway.get_api_key(apiKey=item["id"])
                        return (item["id"], usage_plan_id) if key.get("enabled") else None
        return None

    # ---- request handling ----------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        requested_at = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        split = urlsplit(http.path)
        path = split.path or "/"
        headers = {name: value for name, value in http.headers.items()}
        try:
            body = read_request_body(http, REQUEST_BODY_TIMEOUT_SECONDS)
        except UnreadableBody as error:
            log.info("closed the connection of %s %s without an answer: %s", http.command, path, error)
            http.close_connection = True
            return
        resource = path if path in FUNCTION_ROUTES else ("/" if path == "/" else contract.ROUTE_METERED_PROXY)
        context = {
            "requestId": request_id,
            "path": path,
            "resource": resource,
            "method": http.command,
            "query": split.query,
            "headers": headers,
            "body": body,
            "requestedAt": requested_at,
            "sourceIp": http.client_address[0],
        }
        try:
            reply = self._route(context)
        except Exception:
            log.exception("integration failed for %s %s", http.command, path)
            reply = self._gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
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
            if method != ROUTE_METHODS[path]:
                return self._gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
            if not _body_fits_the_model(request):
                return self._gateway_error(400, "BAD_REQUEST_BODY", "Invalid request body")
            return self._invoke(self._functions[path], request)
        outcome = self.authorizer.authorize(self.authorizer_event(request))
        if isinstance(outcome, Refused):
            reply = self._gateway_error(outcome.status, outcome.error_type, outcome.message)
            reply.principal_id, reply.authorizer_context = outcome.principal_id, outcome.context
            return reply
        reply = self._metered(request, outcome)
        reply.principal_id, reply.authorizer_context = outcome.principal_id, outcome.context
        return reply

    def _metered(self, request: dict[str, Any], authorized: Authorized) -> _Reply:
        """After an allow: the usage key's usage plan counts the call (or answers 429), then the backend."""
        found = self.enabled_key_id(authorized.usage_identifier_key)
        if found is None:
            return self._gateway_error(403, "INVALID_API_KEY", "Forbidden")
        key_id, usage_plan_id = found
        if self._usage is not None and not self._usage[usage_plan_id].take(key_id, request["requestedAt"]):
            reply = self._gateway_error(
                429,
                "QUOTA_EXCEEDED",
                "Limit Exceeded",
                authorizer={gateway_errors.PRINCIPAL_ID: authorized.principal_id, **authorized.context},
            )
            reply.api_key_id = key_id
            return reply
        reply = self._proxy(request, key_id, authorized.principal_id)
        reply.api_key_id = key_id
        return reply

    def authorizer_event(self, request: dict[str, Any]) -> dict[str, Any]:
        """The REQUEST authorizer event of a metered call: the proxy event's request, without its
        body, with the method's ARN."""
        event = {
            name: value for name, value in self.proxy_event(request).items() if name not in ("body", "isBase64Encoded")
        }
        return {
            "type": "REQUEST",
            "methodArn": method_arn(
                self._deployment.rest_api_id, self._deployment.stage_name, request["method"], request["path"]
            ),
            **event,
        }

    def _gateway_error(
        self, status: int, error_type: str, message: str, authorizer: dict[str, str] | None = None
    ) -> _Reply:
        """An error API Gateway answers itself: the stage's gateway response for it (its status, if the
        stage sets one; its body, the quota's linking the site's account page; its headers)."""
        headers = {"Content-Type": "application/json", **gateway_errors.gateway_error_headers()}
        status = gateway_errors.status_of(error_type, status, self._deployment.site_origin)
        body = gateway_errors.render(error_type, status, message, self._deployment.site_origin, authorizer)
        return _Reply(status, headers, body, error_type=error_type)

    def proxy_event(self, request: dict[str, Any]) -> dict[str, Any]:
        """The REST API (v1) Lambda proxy event API Gateway sends a public route's function (no API key)."""
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
            "pathParameters": (
                {"proxy": request["path"].lstrip("/")} if request["resource"] == contract.ROUTE_METERED_PROXY else None
            ),
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
                    "apiKey": None,
                    "apiKeyId": None,
                    "caller": None,
                    "user": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                },
            },
            "body": text if body else None,
            "isBase64Encoded": is_base64,
        }

    def _invoke(self, function: LocalFunction, request: dict[str, Any]) -> _Reply:
        started = time.monotonic()
        result = function.invoke(self.proxy_event(request))
        integration_ms = int((time.monotonic() - started) * 1000)
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            log.error("%s returned a malformed proxy response: %r", function.handler_path, result)
            return self._gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(str(v) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return _Reply(result["statusCode"], headers, body, integration_ms=integration_ms)

    def _proxy(self, request: dict[str, Any], api_key_id: str, account_id: str) -> _Reply:
        """HTTP_PROXY integration: forward to backend_url + path with the integration's headers
        (the backend secret, the caller's account id and usage key id), return the answer as is."""
        target = self._deployment.backend_url.rstrip("/") + request["path"]
        if request["query"]:
            target += "?" + request["query"]
        mapped = {contract.BACKEND_API_KEY_ID_HEADER: api_key_id, contract.BACKEND_ACCOUNT_ID_HEADER: account_id}
        if self._deployment.backend_secret:
            mapped[contract.BACKEND_SECRET_HEADER] = self._deployment.backend_secret
        headers = {
            k: v for k, v in request["headers"].items() if k.lower() not in _HOP_BY_HOP and k.lower() not in mapped
        } | mapped
        outbound = urllib.request.Request(
            target, data=request["body"] or None, method=request["method"], headers=headers
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(outbound, timeout=LAMBDA_TIMEOUT_SECONDS) as response:
                status, response_headers, body = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, body = error.code, dict(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError) as error:
            log.warning("backend %s unreachable: %s", target, error)
            return self._gateway_error(504, "INTEGRATION_TIMEOUT", "Endpoint request timed out")
        headers = {k: v for k, v in response_headers.items() if k.lower() not in _HOP_BY_HOP}
        return _Reply(status, headers, body, integration_ms=int((time.monotonic() - started) * 1000))

    # ---- access log -----------------------------------------------------------------------------

    def _log_access(self, request: dict[str, Any], reply: _Reply, latency_ms: int) -> None:
        requested_at: datetime = request["requestedAt"]
        headers: dict[str, str] = request["headers"]
        line = access_log.render(
            {
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
                "authorizer.principalId": reply.principal_id,
                **{f"authorizer.{name}": value for name, value in (reply.authorizer_context or {}).items()},
            }
        )
        self._firehose.put(line)
        REQUEST_LOG.info(
            "%s %s -> %d%s in %d ms%s",
            request["method"],
            request["path"],
            reply.status,
            f" {reply.error_type}" if reply.error_type else "",
            latency_ms,
            f"  account={reply.principal_id} apiKeyId={reply.api_key_id}" if reply.api_key_id else "",
        )


def _header(request: dict[str, Any], name: str) -> str | None:
    return next((value for key, value in request["headers"].items() if key.lower() == name.lower()), None)


def _body_fits_the_model(request: dict[str, Any]) -> bool:
    """API Gateway's body validation: the route's model for the request's media type (parameters
    such as charset aside; none sent counts as application/json), no validation when the route
    has no model for it ("If no matching content type is found, request validation is not
    performed", AWS docs, request validation for REST APIs), and an empty body checked as `{}`
    (as recorded against AWS in LocalStack's API Gateway tests, localstack/localstack#7916).

    A body nested too deep for json.loads (RecursionError, near 1,000 levels) fails the model as
    any nested body does: the stage's models are flat (infra/gateway_errors.py), so the verdict a
    parser without a depth limit would reach is the same 400."""
    media_type = (_header(request, "Content-Type") or DEFAULT_MEDIA_TYPE).split(";", 1)[0].strip().lower()
    check = REQUEST_MODELS.get(request["path"], {}).get(media_type or DEFAULT_MEDIA_TYPE)
    if check is None:
        return True
    try:
        check(json.loads(request["body"] or b"{}"))
    except (ValueError, RecursionError, fastjsonschema.JsonSchemaException):
        return False
    return True


def _request_time(moment: datetime) -> str:
    """$context.requestTime's CLF format, e.g. 25/Nov/2026:12:30:52 +0000."""
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
