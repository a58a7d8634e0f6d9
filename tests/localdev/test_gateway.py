"""The local API Gateway against moto and the Moesif collector: the key check, CORS preflight,
the Lambda proxy event, and the access log that reaches the collector."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import aws_client, create_api
from localdev.gateway import GatewayDeployment, LocalGateway
from localdev.net import BackgroundHttpServer
from tollgate import contract

SITE_ORIGIN = "http://127.0.0.1:18000"
FIREHOSE_ACCESS_KEY = "test-moesif-application-id"


class EchoBackend(BackgroundHttpServer):
    """A customer backend that answers 200 with what it received."""

    what = "echo backend"

    def __init__(self) -> None:
        super().__init__(0)
        self.received: list[dict[str, Any]] = []

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                backend.received.append({"path": self.path, "headers": dict(self.headers.items())})
                body = json.dumps({"echo": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class RecordingFunction:
    """Stands in for a Lambda function: keeps the event, answers like a proxy integration."""

    handler_path = "tests.recording"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 201, "headers": {"Access-Control-Allow-Origin": SITE_ORIGIN},
                "body": json.dumps({"ok": True})}


@pytest.fixture(scope="module")
def apigateway(moto_server: Any, emulators: Any) -> Any:
    return aws_client("apigateway", emulators)


@pytest.fixture(scope="module")
def deployed_api(apigateway: Any) -> tuple[str, str]:
    settings = Settings.from_context(load_cdk_json_context())
    return create_api(apigateway, settings)


@pytest.fixture(scope="module")
def backend() -> Any:
    with EchoBackend() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(apigateway: Any, deployed_api: tuple[str, str], backend: EchoBackend, moesif_collector: Any) -> Any:
    rest_api_id, usage_plan_id = deployed_api
    deployment = GatewayDeployment(
        rest_api_id=rest_api_id, stage_name="prod", usage_plan_id=usage_plan_id, allowed_origin=SITE_ORIGIN,
        backend_url=backend.url, firehose_url=moesif_collector.firehose_url,
        firehose_access_key=FIREHOSE_ACCESS_KEY)
    with LocalGateway(deployment, apigateway) as running:
        yield running


@pytest.fixture
def plan_key(apigateway: Any, deployed_api: tuple[str, str]) -> dict[str, str]:
    """A fresh enabled key attached to the usage plan: {"id", "value"}."""
    key = apigateway.create_api_key(name=f"test-{uuid.uuid4().hex[:8]}", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=deployed_api[1], keyId=key["id"], keyType="API_KEY")
    return {"id": key["id"], "value": key["value"]}


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def wait_for_events(collector: Any, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matching = [event for event in collector.events() if predicate(event)]
        if matching:
            return matching
        time.sleep(0.05)
    raise AssertionError(f"no matching access-log record reached the collector: {collector.events()[-5:]}")


# ---- the API key check -----------------------------------------------------------------------

def test_metered_route_without_a_key_is_forbidden(gateway: LocalGateway) -> None:
    status, _, body = call(f"{gateway.url}/hello")
    assert (status, json.loads(body)) == (403, {"error": "Forbidden"})


def test_metered_route_with_an_unknown_key_is_forbidden(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    status, _, body = call(f"{gateway.url}/hello", headers={"x-api-key": plan_key["value"] + "x"})
    assert (status, json.loads(body)) == (403, {"error": "Forbidden"})


def test_valid_key_reaches_the_backend_with_path_and_query(
        gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend) -> None:
    status, _, body = call(f"{gateway.url}/v1/things?page=2", headers={"x-api-key": plan_key["value"]})
    assert status == 200
    assert json.loads(body) == {"echo": "/v1/things?page=2"}
    assert backend.received[-1]["path"] == "/v1/things?page=2"


def test_the_root_path_is_metered_too(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    assert call(f"{gateway.url}/")[0] == 403
    assert call(f"{gateway.url}/", headers={"x-api-key": plan_key["value"]})[0] == 200


def test_enabled_key_outside_the_usage_plan_is_forbidden(gateway: LocalGateway, apigateway: Any) -> None:
    orphan = apigateway.create_api_key(name="not-in-plan", enabled=True)
    assert call(f"{gateway.url}/hello", headers={"x-api-key": orphan["value"]})[0] == 403


def test_disabled_key_is_forbidden_on_the_very_next_request(
        gateway: LocalGateway, plan_key: dict[str, str], apigateway: Any) -> None:
    headers = {"x-api-key": plan_key["value"]}
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200
    apigateway.update_api_key(apiKey=plan_key["id"], patchOperations=[
        {"op": "replace", "path": "/enabled", "value": "false"}])
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 403


# ---- public routes and CORS ------------------------------------------------------------------

def test_cors_preflight_allows_the_signup_origin_only(gateway: LocalGateway) -> None:
    for route in (contract.ROUTE_REGISTER, contract.ROUTE_CHECKOUT):
        status, headers, _ = call(f"{gateway.url}{route}", method="OPTIONS", headers={
            "Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key,x-api-key"})
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
        allowed = {name.strip().lower() for name in headers["Access-Control-Allow-Headers"].split(",")}
        assert {"content-type", "idempotency-key", "x-api-key"} <= allowed
        assert "POST" in headers["Access-Control-Allow-Methods"]

    _, headers, _ = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert headers.get("Access-Control-Allow-Origin") != "https://evil.example"
    assert headers.get("Access-Control-Allow-Origin") != "*"


def test_webhook_route_has_no_cors_preflight(gateway: LocalGateway) -> None:
    status, headers, _ = call(f"{gateway.url}{contract.ROUTE_STRIPE_WEBHOOK}", method="OPTIONS",
                              headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers


def test_public_route_gets_an_api_gateway_proxy_event_with_the_raw_body(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, recorder)
    raw = '{"email": "a@example.com", "firstname": "Ada", "lastname": "L"}'
    status, headers, body = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=raw.encode(),
                                 headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"})
    assert (status, json.loads(body)) == (201, {"ok": True})
    assert headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    (event,) = recorder.events
    assert event["httpMethod"] == "POST"
    assert event["resource"] == event["path"] == contract.ROUTE_REGISTER
    assert event["body"] == raw and event["isBase64Encoded"] is False
    assert event["headers"]["Idempotency-Key"] == "k-1"
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["requestId"] == headers["x-amzn-RequestId"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["apiKeyId"] is None


def test_public_route_answers_502_like_api_gateway_when_the_function_crashes(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    class Crashing(RecordingFunction):
        def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("boom")

    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, Crashing())
    status, _, body = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=b"{}")
    assert (status, json.loads(body)) == (502, {"error": "The service had a problem; please try again in a minute."})


# ---- access log ------------------------------------------------------------------------------

def test_each_request_sends_one_access_log_record_naming_the_key_id_never_its_value(
        gateway: LocalGateway, plan_key: dict[str, str], moesif_collector: Any) -> None:
    path = f"/logged/{uuid.uuid4().hex}"
    assert call(f"{gateway.url}{path}", headers={"x-api-key": plan_key["value"], "User-Agent": "t/1"})[0] == 200
    assert call(f"{gateway.url}{path}")[0] == 403

    records = wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "403")
    records += wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "200")
    allowed, refused = records[-1], records[0]
    assert len([e for e in moesif_collector.events() if e.get("path") == f"/prod{path}"]) == 2
    assert allowed["user"] == allowed["apiKeyId"] == plan_key["id"]
    assert allowed["resourcePath"] == "/{proxy+}" and allowed["httpMethod"] == "GET"
    assert allowed["requestUserAgentHeader"] == "t/1" and allowed["stage"] == "prod"
    assert refused["user"] == "-" and refused["errorResponseType"] == "INVALID_API_KEY"

    deliveries = [r for r in moesif_collector.requests() if r.header("X-Amz-Firehose-Request-Id")]
    assert deliveries and all(r.header("X-Amz-Firehose-Access-Key") == FIREHOSE_ACCESS_KEY for r in deliveries)
    everything_received = json.dumps([r.as_dict() for r in moesif_collector.requests()])
    assert plan_key["value"] not in everything_received


def test_two_functions_never_run_at_once_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools' event handler keeps the current event in class attributes, so two handlers
    running at once in one process would read each other's request (each Lambda has its own)."""
    import sys
    import threading
    import types

    from localdev.gateway import _LocalFunction

    running: list[str] = []
    overlaps: list[str] = []

    def slow_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        if running:
            overlaps.append(event["path"])
        running.append(event["path"])
        time.sleep(0.05)
        running.remove(event["path"])
        return {"statusCode": 200, "body": ""}

    module = types.ModuleType("slow_functions")
    module.handler = slow_handler
    monkeypatch.setitem(sys.modules, "slow_functions", module)
    functions = [_LocalFunction("slow_functions.handler") for _ in range(2)]
    threads = [threading.Thread(target=function.invoke, args=({"path": f"/f{index}/{call}"},))
               for index, function in enumerate(functions) for call in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == []
