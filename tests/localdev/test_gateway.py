"""The local API Gateway against moto and the Moesif collector: the authorizer (the real handler, its
cache) and the usage key's plan, no CORS anywhere,
the site's twins of the sign-up routes, the Lambda proxy event, the access log that reaches the
collector, and where it behaves like the
stage: the /register body model, chunked and short bodies, error headers, clients hanging up."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

import localdev.gateway
from infra import gateway_errors
from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import aws_client, create_api, create_keys_table
from localdev.gateway import GatewayDeployment, LocalGateway
from localdev.net import BackgroundHttpServer
from localdev.usage_plan_usage import UsageCounter
from testkit.key_items import put_key
from tollgate import contract
from tollgate.domain import api_key_format

SITE_ORIGIN = "http://127.0.0.1:18000"
FIREHOSE_ACCESS_KEY = "test-moesif-application-id"


BACKEND_SECRET = "the-stages-backend-secret"
CACHE_SECONDS = 300


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

            def do_GET(self) -> None:
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
        return {"statusCode": 201, "headers": {"Cache-Control": "no-store"}, "body": json.dumps({"ok": True})}


class CrashingFunction(RecordingFunction):
    """A function whose invocation fails: API Gateway answers 502 for it."""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")


@pytest.fixture(scope="module")
def apigateway(moto_server: Any, emulators: Any) -> Any:
    return aws_client("apigateway", emulators)


@pytest.fixture(scope="module")
def deployed_api(apigateway: Any) -> tuple[str, dict[str, str]]:
    settings = Settings.from_context(load_cdk_json_context())
    return create_api(apigateway, settings)


@pytest.fixture(scope="module")
def backend() -> Any:
    with EchoBackend() as running:
        yield running


@pytest.fixture(scope="module")
def keys_table(emulators: Any) -> str:
    return create_keys_table(aws_client("dynamodb", emulators), name=f"gateway-{uuid.uuid4().hex[:8]}")


class Clock:
    """The clock the gateway's authorizer cache expires on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def gateway(apigateway: Any, deployed_api: tuple[str, dict[str, str]], backend: EchoBackend, moesif_collector: Any,
            emulators: Any, keys_table: str, clock: Clock) -> Any:
    """The gateway, its authorizer (the real handler) reading `keys_table` in moto, as make dev's does."""
    rest_api_id, usage_plan_ids = deployed_api
    deployment = GatewayDeployment(
        rest_api_id=rest_api_id, stage_name="prod", usage_plan_ids=tuple(usage_plan_ids.values()),
        site_origin=SITE_ORIGIN,
        backend_url=backend.url, firehose_url=moesif_collector.firehose_url,
        firehose_access_key=FIREHOSE_ACCESS_KEY, backend_secret=BACKEND_SECRET,
        authorizer_cache_seconds=CACHE_SECONDS)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**emulators.env(), contract.ENV_KEYS_TABLE: keys_table}.items():
            patch.setenv(name, value)
        with LocalGateway(deployment, apigateway, clock=clock) as running:
            yield running


@pytest.fixture
def plan_key(apigateway: Any, deployed_api: tuple[str, dict[str, str]], emulators: Any,
             keys_table: str) -> dict[str, str]:
    """A customer's Tollgate key (`value`) whose account's usage key (`id`, `usage_key`: an enabled
    gateway key) is on the free usage plan, stored in the keys table as a sign-up stores it."""
    usage = apigateway.create_api_key(name=f"test-{uuid.uuid4().hex[:8]}", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=deployed_api[1]["free"], keyId=usage["id"], keyType="API_KEY")
    key, account_id = api_key_format.new_key("tgk", "test"), f"acct_{uuid.uuid4().hex[:20]}"
    put_key(aws_client("dynamodb", emulators), keys_table, key, usage["value"], account_id=account_id)
    return {"id": usage["id"], "value": key, "usage_key": usage["value"], "account_id": account_id}


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    return send(urllib.request.Request(url, method=method, headers=headers or {}, data=body))


def wait_for_events(collector: Any, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matching = [event for event in collector.events() if predicate(event)]
        if matching:
            return matching
        time.sleep(0.05)
    raise AssertionError(f"no matching access-log record reached the collector: {collector.events()[-5:]}")


# ---- the authorizer and the usage key ----------------------------------------------------------

FORBIDDEN = (403, {"error": "Forbidden"})


def test_metered_route_without_a_key_is_forbidden(gateway: LocalGateway) -> None:
    status, _, body = call(f"{gateway.url}/hello")
    assert (status, json.loads(body)) == FORBIDDEN


def test_metered_route_with_an_unknown_key_is_forbidden(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    for unknown in (plan_key["value"] + "x", api_key_format.new_key("tgk", "test")):
        status, _, body = call(f"{gateway.url}/hello", headers={"x-api-key": unknown})
        assert (status, json.loads(body)) == FORBIDDEN


def test_the_usage_keys_own_value_is_no_credential(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    """With the key source AUTHORIZER, a client presenting the account's API Gateway key gets the
    authorizer's deny: only Tollgate keys (and imported legacy ones) resolve."""
    status, _, body = call(f"{gateway.url}/hello", headers={"x-api-key": plan_key["usage_key"]})
    assert (status, json.loads(body)) == FORBIDDEN


def test_valid_key_reaches_the_backend_with_path_and_query(
        gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend) -> None:
    status, _, body = call(f"{gateway.url}/v1/things?page=2", headers={"x-api-key": plan_key["value"]})
    assert status == 200
    assert json.loads(body) == {"echo": "/v1/things?page=2"}
    assert backend.received[-1]["path"] == "/v1/things?page=2"


def test_the_backend_gets_the_stages_secret_header_the_account_and_its_usage_key_id_whatever_the_client_sent(
        gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend) -> None:
    spoofed = {contract.BACKEND_SECRET_HEADER: "guessed", contract.BACKEND_API_KEY_ID_HEADER: "someone-else",
               contract.BACKEND_ACCOUNT_ID_HEADER: "acct_someone_else"}
    assert call(f"{gateway.url}/v1/things", headers={"x-api-key": plan_key["value"], **spoofed})[0] == 200

    received = {name.lower(): value for name, value in backend.received[-1]["headers"].items()}
    assert received[contract.BACKEND_SECRET_HEADER] == BACKEND_SECRET
    assert received[contract.BACKEND_API_KEY_ID_HEADER] == plan_key["id"]
    assert received[contract.BACKEND_ACCOUNT_ID_HEADER] == plan_key["account_id"]
    assert not {"guessed", "someone-else", "acct_someone_else"} & set(received.values())


def test_the_root_path_is_metered_too(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    assert call(f"{gateway.url}/")[0] == 403
    assert call(f"{gateway.url}/", headers={"x-api-key": plan_key["value"]})[0] == 200


def test_a_key_past_its_quota_gets_api_gateways_429_and_never_reaches_the_backend(
        gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = UsageCounter(quota_limit=5)
    counter.set_remaining(plan_key["id"], 1)  # what UpdateUsage left the usage key
    monkeypatch.setattr(gateway, "_usage", defaultdict(lambda: counter))  # the key's usage plan counts in `counter`
    assert call(f"{gateway.url}/v1/first", headers={"x-api-key": plan_key["value"]})[0] == 200
    status, _, body = call(f"{gateway.url}/v1/second", headers={"x-api-key": plan_key["value"]})
    assert status == 429
    assert json.loads(body) == {
        "error": "This API key has used its plan's quota for the current period: see your plan and upgrade on your "
                 "account page (accountUrl).",
        "accountUrl": f"{SITE_ORIGIN}/{contract.ACCOUNT_PAGE}",
        "apiKeyId": plan_key["id"],
    }
    assert backend.received[-1]["path"] == "/v1/first"


def test_every_key_of_an_account_spends_the_one_quota_of_its_usage_key(
        gateway: LocalGateway, plan_key: dict[str, str], emulators: Any, keys_table: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    counter = UsageCounter(quota_limit=3)
    monkeypatch.setattr(gateway, "_usage", defaultdict(lambda: counter))
    second = api_key_format.new_key("tgk", "test")
    put_key(aws_client("dynamodb", emulators), keys_table, second, plan_key["usage_key"],
            account_id=plan_key["account_id"])
    statuses = [call(f"{gateway.url}/spend", headers={"x-api-key": key})[0]
                for key in (plan_key["value"], second, plan_key["value"], second)]
    assert statuses == [200, 200, 200, 429]


def test_a_usage_key_outside_every_usage_plan_is_forbidden(
        gateway: LocalGateway, apigateway: Any, emulators: Any, keys_table: str) -> None:
    orphan, key = apigateway.create_api_key(name="not-in-plan", enabled=True), api_key_format.new_key("tgk", "test")
    put_key(aws_client("dynamodb", emulators), keys_table, key, orphan["value"])
    assert call(f"{gateway.url}/hello", headers={"x-api-key": key})[0] == 403


def test_a_disabled_usage_key_is_forbidden_on_the_very_next_request_whatever_the_cache_holds(
        gateway: LocalGateway, plan_key: dict[str, str], apigateway: Any) -> None:
    headers = {"x-api-key": plan_key["value"]}
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200
    apigateway.update_api_key(apiKey=plan_key["id"], patchOperations=[
        {"op": "replace", "path": "/enabled", "value": "false"}])
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 403


@pytest.mark.parametrize("change", [{contract.KEYS_ATTR_STATE: "revoked"},
                                    {contract.KEYS_ATTR_ACCOUNT_STATUS: "suspended"}], ids=["revoked", "suspended"])
def test_a_refused_key_keeps_calling_for_at_most_the_cache_ttl(
        gateway: LocalGateway, plan_key: dict[str, str], emulators: Any, keys_table: str, clock: Clock,
        change: dict[str, str]) -> None:
    headers = {"x-api-key": plan_key["value"]}
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200
    put_key(aws_client("dynamodb", emulators), keys_table, plan_key["value"], plan_key["usage_key"],
            account_id=plan_key["account_id"], **change)
    clock.now += CACHE_SECONDS - 1
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200  # the cached allow
    clock.now += 1
    status, _, body = call(f"{gateway.url}/hello", headers=headers)
    assert (status, json.loads(body)) == FORBIDDEN
    clock.now += CACHE_SECONDS  # the deny was cached in its turn; nothing else changes it
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 403


# ---- public routes, the site's routes, no CORS --------------------------------------------------

def test_no_route_answers_a_cors_preflight(gateway: LocalGateway) -> None:
    """The signup page calls only its own origin, so neither the API's public routes nor the site's
    answer a preflight: the stage's own 403, with no Access-Control-* header."""
    for route in (*contract.PUBLIC_ROUTES, *contract.SITE_ROUTES):
        status, headers, body = call(f"{gateway.url}{route}", method="OPTIONS", headers={
            "Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"})
        assert (status, json.loads(body)) == (403, {"error": "Missing Authentication Token"}), route
        assert not [name for name in headers if name.lower().startswith("access-control-")], route


def test_the_sites_sign_up_routes_reach_the_functions_of_their_twins_on_the_api(gateway: LocalGateway) -> None:
    for route, twin in contract.SITE_TWIN_OF_ROUTE.items():
        assert gateway._functions[twin].handler_path == gateway._functions[route].handler_path, twin


def test_public_route_gets_an_api_gateway_proxy_event_with_the_raw_body(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, recorder)
    raw = '{"email": "a@example.com", "firstname": "Ada", "lastname": "L"}'
    status, headers, body = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=raw.encode(),
                                 headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"})
    assert (status, json.loads(body)) == (201, {"ok": True})
    assert headers["Cache-Control"] == "no-store"  # the function's own headers, passed on
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
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, CrashingFunction())
    status, _, body = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=b"{}")
    assert (status, json.loads(body)) == (502, {"error": "The service had a problem; please try again in a minute."})


# ---- access log ------------------------------------------------------------------------------

def test_each_request_sends_one_access_log_record_naming_the_account_and_hint_never_the_key(
        gateway: LocalGateway, plan_key: dict[str, str], moesif_collector: Any) -> None:
    path = f"/logged/{uuid.uuid4().hex}"
    assert call(f"{gateway.url}{path}", headers={"x-api-key": plan_key["value"], "User-Agent": "t/1"})[0] == 200
    assert call(f"{gateway.url}{path}")[0] == 403

    records = wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "403")
    records += wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "200")
    allowed, refused = records[-1], records[0]
    assert len([e for e in moesif_collector.events() if e.get("path") == f"/prod{path}"]) == 2
    assert allowed["user"] == allowed["principalId"] == plan_key["account_id"]
    assert allowed["apiKeyId"] == plan_key["id"] and allowed["keyHint"] == plan_key["value"][-4:]
    assert allowed["resourcePath"] == "/{proxy+}" and allowed["httpMethod"] == "GET"
    assert allowed["requestUserAgentHeader"] == "t/1" and allowed["stage"] == "prod"
    assert refused["user"] == "-" and refused["errorResponseType"] == "UNAUTHORIZED"

    deliveries = [r for r in moesif_collector.requests() if r.header("X-Amz-Firehose-Request-Id")]
    assert deliveries and all(r.header("X-Amz-Firehose-Access-Key") == FIREHOSE_ACCESS_KEY for r in deliveries)
    everything_received = json.dumps([r.as_dict() for r in moesif_collector.requests()])
    assert plan_key["value"] not in everything_received and plan_key["usage_key"] not in everything_received


# ---- like the stage: body model, request bodies, error headers, client disconnects ------------

BAD_REQUEST_BODY = json.loads(gateway_errors.render("BAD_REQUEST_BODY", 400, "Invalid request body", SITE_ORIGIN))


@pytest.fixture
def register_recorder(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> RecordingFunction:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, recorder)
    return recorder


@pytest.mark.parametrize("body", [
    b'{"email": 5}', b'["ada@example.com"]', b"email=ada@example.com", b'{"firstname": "' + b"x" * 513 + b'"}',
    b'{"lastname": null}', b"\xff\xfe", b'{"extra": {"a": 1}}',
], ids=["number", "array", "not-json", "too-long", "null", "not-utf8", "nested"])
@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8", None])
def test_register_body_outside_the_stage_model_gets_its_400_and_never_reaches_the_function(
        gateway: LocalGateway, register_recorder: RecordingFunction, body: bytes, content_type: str | None) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)  # adds no Content-Type
    try:
        connection.request("POST", contract.ROUTE_REGISTER, body=body,
                           headers={"Content-Type": content_type} if content_type else {})
        response = connection.getresponse()
        status, answer_headers, answer = response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
    assert (status, json.loads(answer)) == (400, BAD_REQUEST_BODY)
    assert answer_headers["Cache-Control"] == "no-store"
    assert register_recorder.events == []


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "extra": 1}'),
    ("application/json", b""),  # validated as {} (fits): the function answers its own 400
    ("text/plain", b'{"email": 5}'),  # no model for this media type: API Gateway does not validate
], ids=["fits", "empty", "other-media-type"])
def test_register_body_the_model_lets_through_reaches_the_function(
        gateway: LocalGateway, register_recorder: RecordingFunction, content_type: str, body: bytes) -> None:
    status, _, _ = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=body,
                        headers={"Content-Type": content_type})
    assert status == 201
    (event,) = register_recorder.events
    assert (event["body"] or "").encode() == body


def test_the_register_model_guards_the_sites_register_route_too(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_SITE_REGISTER, recorder)
    url = f"{gateway.url}{contract.ROUTE_SITE_REGISTER}"
    status, _, answer = call(url, method="POST", body=b'{"email": 5}', headers={"Content-Type": "application/json"})
    assert (status, json.loads(answer)) == (400, BAD_REQUEST_BODY)
    assert recorder.events == []
    assert call(url, method="POST", body=b'{"email": "ada@example.com"}',
                headers={"Content-Type": "application/json"})[0] == 201
    assert len(recorder.events) == 1


def test_the_model_is_only_on_register(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_STRIPE_WEBHOOK, recorder)
    assert call(f"{gateway.url}{contract.ROUTE_STRIPE_WEBHOOK}", method="POST", body=b'{"email": 5}',
                headers={"Content-Type": "application/json"})[0] == 201
    assert len(recorder.events) == 1


def test_a_chunked_body_reaches_the_function_whole(gateway: LocalGateway, register_recorder: RecordingFunction) -> None:
    parts = [b'{"email": "ada@example.com", ', b'"firstname": "Ada", ', b'"lastname": "Lovelace"}']
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request("POST", contract.ROUTE_REGISTER, body=iter(parts), encode_chunked=True,
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        assert response.status == 201
        response.read()
    finally:
        connection.close()
    (event,) = register_recorder.events
    assert event["body"] == b"".join(parts).decode()


def test_a_body_shorter_than_its_content_length_is_dropped_after_the_timeout(
        gateway: LocalGateway, register_recorder: RecordingFunction, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localdev.gateway, "REQUEST_BODY_TIMEOUT_SECONDS", 0.5)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(b"POST /register HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100\r\n\r\n{\"email\": \"a")
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed without an answer
        assert time.monotonic() - started < 5
    assert register_recorder.events == []
    assert call(f"{gateway.url}/hello")[0] == 403  # and the gateway serves on


def test_errors_the_gateway_answers_carry_the_stage_gateway_response_headers(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, CrashingFunction())
    expected = gateway_errors.gateway_error_headers()
    for status, url, method in [(502, f"{gateway.url}{contract.ROUTE_REGISTER}", "POST"),
                                (403, f"{gateway.url}/hello", "GET"),
                                (403, f"{gateway.url}{contract.ROUTE_REGISTER}", "GET")]:
        answer_status, headers, _ = call(url, method=method, body=b"{}" if method == "POST" else None)
        assert answer_status == status
        assert {name: headers.get(name) for name in expected} == expected, (status, url)


def test_a_client_that_hangs_up_before_the_answer_leaves_no_traceback(
        gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    class Slow(RecordingFunction):
        def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
            time.sleep(0.3)  # the client resets meanwhile: writing the answer fails
            return super().invoke(event)

    slow = Slow()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, slow)
    for _ in range(3):
        client = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
        client.sendall(b"POST /register HTTP/1.1\r\nHost: local\r\nContent-Length: 2\r\n\r\n{}")
        client.close()
    deadline = time.monotonic() + 5
    while len(slow.events) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the last answer's write
    assert len(slow.events) == 3
    assert "Traceback" not in capfd.readouterr().err


def test_other_server_errors_keep_their_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    with EchoBackend() as server:
        try:
            raise ValueError("a bug in a handler")
        except ValueError:
            server._server.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a bug in a handler" in capfd.readouterr().err


def send(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
