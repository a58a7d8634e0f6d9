"""The local API Gateway of a running `make dev` (the session's, tests/conftest.py) holds up as the
stage does: a burst of 100 clients each gets an HTTP answer (metered calls and sign-ups alike, no
reset, no hang), and a JSON body nested 17, 1,000 or 100,000 levels deep gets the same 400 as any
nested body, never a 5xx from a parser running out of recursion."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra import gateway_errors
from localdev.dev_stack_process import DevStackProcess
from localdev.net import LISTEN_BACKLOG, AnyMethodHttpServer
from testkit import dev_stack as dev_stack_client
from tollgate import contract
from tollgate.domain.validation import MAX_BODY_BYTES, MAX_JSON_DEPTH

CONCURRENT_CLIENTS = 100
ANSWER_TIMEOUT_SECONDS = 30  # a client still waiting after this is a hang
DEPTHS = [MAX_JSON_DEPTH + 1, 1_000, 100_000]


def exchange(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request on its own connection: (status, body); a reset or a timeout raises."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def nested(depth: int) -> bytes:
    """A JSON object `depth` containers deep, {"a":[[...]]}: 2 bytes a level, so 1,000 levels fit
    in the functions' 4 KB and 100,000 do not."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


# ---- bursts ----------------------------------------------------------------------------------


class Idle(AnyMethodHttpServer):
    what = "idle server"

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        raise AssertionError("never accepted")


def test_connections_beyond_socketservers_five_wait_in_the_listen_backlog() -> None:
    """The kernel completes and queues up to the backlog while the server is busy: with
    socketserver's default of 5 the seventh client's handshake is dropped (connect times out)."""
    assert LISTEN_BACKLOG >= 128
    with Idle() as server:
        server._server.shutdown()  # stops accepting; the socket still listens
        clients = []
        try:
            for _ in range(128):
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
        finally:
            for client in clients:
                client.close()
    assert len(clients) == 128


def test_100_concurrent_clients_each_get_an_answer_from_metered_routes_and_register(dev_stack: DevStackProcess) -> None:
    key = dev_stack_client.sign_up(dev_stack.urls)["apikey"]
    start = threading.Barrier(CONCURRENT_CLIENTS)

    def client(number: int) -> tuple[str, int | str, float]:
        route = "metered" if number % 2 else "register"
        if route == "metered":
            request: tuple[str, str, bytes | None, dict[str, Any]] = (
                "GET",
                f"/orders/{number}",
                None,
                {contract.API_KEY_HEADER: key},
            )
        else:
            sign_up = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "firstname": "Ann", "lastname": "Lee"}
            request = (
                "POST",
                contract.ROUTE_REGISTER,
                json.dumps(sign_up).encode(),
                {
                    "Content-Type": "application/json",
                    "Origin": dev_stack.urls["site"],
                    contract.IDEMPOTENCY_HEADER: str(uuid.uuid4()),
                },
            )
        start.wait()
        began = time.monotonic()
        try:
            status, _ = exchange(dev_stack.api_port, *request)
        except OSError as error:  # a reset, a refused connection, a timeout (a hang)
            return route, type(error).__name__, time.monotonic() - began
        return route, status, time.monotonic() - began

    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        answers = list(pool.map(client, range(CONCURRENT_CLIENTS)))

    assert Counter((route, status) for route, status, _ in answers) == {
        ("metered", 200): CONCURRENT_CLIENTS // 2,
        ("register", 202): CONCURRENT_CLIENTS // 2,
    }
    assert max(seconds for _, _, seconds in answers) < ANSWER_TIMEOUT_SECONDS
    assert "Traceback" not in dev_stack.output()


# ---- nesting depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", gateway_errors.REGISTER_BODY_ROUTES)
def test_a_nested_register_body_gets_the_stages_bad_body_400_at_any_depth(
    dev_stack: DevStackProcess, route: str
) -> None:
    """The register model allows no nested value (infra/gateway_errors.py), so the gateway's
    400 answers before any function runs, whether or not its parser could follow the nesting."""
    site = dev_stack.urls["site"]
    expected = json.loads(gateway_errors.render("BAD_REQUEST_BODY", 400, "Invalid request body", site))
    for depth in DEPTHS:
        status, body = exchange(
            dev_stack.api_port, "POST", route, nested(depth), {"Content-Type": "application/json", "Origin": site}
        )
        assert (status, json.loads(body)) == (400, expected), depth
    assert exchange(dev_stack.api_port, "GET", "/hello")[0] == 403  # and it serves on


def test_a_nested_body_on_a_route_without_a_model_gets_the_functions_400_or_413_never_a_5xx(
    dev_stack: DevStackProcess,
) -> None:
    """No model on the site's routes: the function measures the depth without recursing
    (tollgate.domain.validation) and names the body; 100,000 levels cannot fit its 4 KB limit."""
    answers = {
        depth: exchange(
            dev_stack.api_port,
            "POST",
            contract.ROUTE_SIGNIN,
            nested(depth),
            {"Content-Type": "application/json", "Origin": dev_stack.urls["site"]},
        )
        for depth in DEPTHS
    }
    too_deep = {
        "error": f"The request body nests objects or arrays more than {MAX_JSON_DEPTH} levels deep.",
        "fields": {"body": "must be a flat JSON object"},
    }
    assert {depth: (status, json.loads(body)) for depth, (status, body) in answers.items()} == {
        MAX_JSON_DEPTH + 1: (400, too_deep),
        1_000: (400, too_deep),
        100_000: (413, {"error": f"The request body is larger than {MAX_BODY_BYTES} bytes.", "fields": {}}),
    }
