"""The local API Gateway's other routes, against moto and the Moesif collector: no CORS anywhere, the site's
twins of the sign-up routes, the Lambda proxy event, and where it behaves like the stage: the /register body
model, chunked and short bodies, error headers, clients hanging up. (The metered path: test_gateway_metered.py.)"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
from typing import Any

import pytest

import localdev.gateway
from infra import gateway_errors
from localdev.gateway import LocalGateway
from testkit.local_gateway import SITE_ORIGIN, EchoBackend, call
from tollgate import contract


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


# ---- public routes, the site's routes, no CORS --------------------------------------------------


def test_no_route_answers_a_cors_preflight(gateway: LocalGateway) -> None:
    """The signup page calls only its own origin, so neither the API's public routes nor the site's
    answer a preflight: the stage's own 403, with no Access-Control-* header."""
    for route in (*contract.PUBLIC_ROUTES, *contract.SITE_ROUTES):
        status, headers, body = call(
            f"{gateway.url}{route}",
            method="OPTIONS",
            headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert (status, json.loads(body)) == (403, {"error": "Missing Authentication Token"}), route
        assert not [name for name in headers if name.lower().startswith("access-control-")], route


def test_the_sites_sign_up_routes_reach_the_functions_of_their_twins_on_the_api(gateway: LocalGateway) -> None:
    for route, twin in contract.SITE_TWIN_OF_ROUTE.items():
        assert gateway._functions[twin].handler_path == gateway._functions[route].handler_path, twin


def test_public_route_gets_an_api_gateway_proxy_event_with_the_raw_body(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, recorder)
    raw = '{"email": "a@example.com", "firstname": "Ada", "lastname": "L"}'
    status, headers, body = call(
        f"{gateway.url}{contract.ROUTE_REGISTER}",
        method="POST",
        body=raw.encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
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
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, CrashingFunction())
    status, _, body = call(f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=b"{}")
    assert (status, json.loads(body)) == (502, {"error": "The service had a problem; please try again in a minute."})


# ---- like the stage: body model, request bodies, error headers, client disconnects ------------

BAD_REQUEST_BODY = json.loads(gateway_errors.render("BAD_REQUEST_BODY", 400, "Invalid request body", SITE_ORIGIN))


@pytest.fixture
def register_recorder(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> RecordingFunction:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, recorder)
    return recorder


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": 5}',
        b'["ada@example.com"]',
        b"email=ada@example.com",
        b'{"firstname": "' + b"x" * 513 + b'"}',
        b'{"lastname": null}',
        b"\xff\xfe",
        b'{"extra": {"a": 1}}',
    ],
    ids=["number", "array", "not-json", "too-long", "null", "not-utf8", "nested"],
)
@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8", None])
def test_register_body_outside_the_stage_model_gets_its_400_and_never_reaches_the_function(
    gateway: LocalGateway, register_recorder: RecordingFunction, body: bytes, content_type: str | None
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)  # adds no Content-Type
    try:
        connection.request(
            "POST", contract.ROUTE_REGISTER, body=body, headers={"Content-Type": content_type} if content_type else {}
        )
        response = connection.getresponse()
        status, answer_headers, answer = response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
    assert (status, json.loads(answer)) == (400, BAD_REQUEST_BODY)
    assert answer_headers["Cache-Control"] == "no-store"
    assert register_recorder.events == []


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "extra": 1}'),
        ("application/json", b""),  # validated as {} (fits): the function answers its own 400
        ("text/plain", b'{"email": 5}'),  # no model for this media type: API Gateway does not validate
    ],
    ids=["fits", "empty", "other-media-type"],
)
def test_register_body_the_model_lets_through_reaches_the_function(
    gateway: LocalGateway, register_recorder: RecordingFunction, content_type: str, body: bytes
) -> None:
    status, _, _ = call(
        f"{gateway.url}{contract.ROUTE_REGISTER}", method="POST", body=body, headers={"Content-Type": content_type}
    )
    assert status == 201
    (event,) = register_recorder.events
    assert (event["body"] or "").encode() == body


def test_the_register_model_guards_the_sites_register_route_too(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_SITE_REGISTER, recorder)
    url = f"{gateway.url}{contract.ROUTE_SITE_REGISTER}"
    status, _, answer = call(url, method="POST", body=b'{"email": 5}', headers={"Content-Type": "application/json"})
    assert (status, json.loads(answer)) == (400, BAD_REQUEST_BODY)
    assert recorder.events == []
    assert (
        call(url, method="POST", body=b'{"email": "ada@example.com"}', headers={"Content-Type": "application/json"})[0]
        == 201
    )
    assert len(recorder.events) == 1


def test_the_model_is_only_on_register(gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingFunction()
    monkeypatch.setitem(gateway._functions, contract.ROUTE_STRIPE_WEBHOOK, recorder)
    assert (
        call(
            f"{gateway.url}{contract.ROUTE_STRIPE_WEBHOOK}",
            method="POST",
            body=b'{"email": 5}',
            headers={"Content-Type": "application/json"},
        )[0]
        == 201
    )
    assert len(recorder.events) == 1


def test_a_chunked_body_reaches_the_function_whole(gateway: LocalGateway, register_recorder: RecordingFunction) -> None:
    parts = [b'{"email": "ada@example.com", ', b'"firstname": "Ada", ', b'"lastname": "Lovelace"}']
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(
            "POST",
            contract.ROUTE_REGISTER,
            body=iter(parts),
            encode_chunked=True,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        response = connection.getresponse()
        assert response.status == 201
        response.read()
    finally:
        connection.close()
    (event,) = register_recorder.events
    assert event["body"] == b"".join(parts).decode()


def test_a_body_shorter_than_its_content_length_is_dropped_after_the_timeout(
    gateway: LocalGateway, register_recorder: RecordingFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localdev.gateway, "REQUEST_BODY_TIMEOUT_SECONDS", 0.5)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(
            b"POST /register HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"email": "a'
        )
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed without an answer
        assert time.monotonic() - started < 5
    assert register_recorder.events == []
    assert call(f"{gateway.url}/hello")[0] == 403  # and the gateway serves on


def test_errors_the_gateway_answers_carry_the_stage_gateway_response_headers(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(gateway._functions, contract.ROUTE_REGISTER, CrashingFunction())
    expected = gateway_errors.gateway_error_headers()
    for status, url, method in [
        (502, f"{gateway.url}{contract.ROUTE_REGISTER}", "POST"),
        (403, f"{gateway.url}/hello", "GET"),
        (403, f"{gateway.url}{contract.ROUTE_REGISTER}", "GET"),
    ]:
        answer_status, headers, _ = call(url, method=method, body=b"{}" if method == "POST" else None)
        assert answer_status == status
        assert {name: headers.get(name) for name in expected} == expected, (status, url)


def test_a_client_that_hangs_up_before_the_answer_leaves_no_traceback(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
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
