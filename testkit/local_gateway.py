"""The local gateway's test harness (tests/localdev): a backend that echoes what the gateway proxied, and
plain HTTP calls that return an error's answer instead of raising."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any

from localdev.net import BackgroundHttpServer

SITE_ORIGIN = "http://127.0.0.1:18000"
FIREHOSE_ACCESS_KEY = "test-moesif-application-id"
BACKEND_SECRET = "the-stages-backend-secret"
CACHE_SECONDS = 300  # the gateway's authorizer_cache_seconds in these tests: the stage's default


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


def call(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    return send(urllib.request.Request(url, method=method, headers=headers or {}, data=body))


def wait_for_events(collector: Any, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matching = [event for event in collector.events() if predicate(event)]
        if matching:
            return matching
        time.sleep(0.05)
    raise AssertionError(f"no matching access-log record reached the collector: {collector.events()[-5:]}")


def send(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
