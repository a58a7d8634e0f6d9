"""A local stand-in for Moesif: records every request it receives so tests and `make dev` can see
exactly what would have left the machine.

It answers two kinds of senders:

- the Moesif API as the `moesifapi` SDK calls it: `POST /v1/users`, `/v1/users/batch`,
  `/v1/companies`, `/v1/companies/batch`, `/v1/events`, `/v1/events/batch` (JSON, header
  `X-Moesif-Application-Id`);
- Amazon Data Firehose's HTTP-endpoint delivery (the stack's access logs): any other `POST` whose
  JSON body has Firehose's shape `{"requestId", "timestamp", "records": [{"data": "<base64>"}]}`,
  optionally gzip-encoded, with headers `X-Amz-Firehose-Request-Id` / `X-Amz-Firehose-Access-Key`.
  It answers Firehose's success format `{"requestId": <same id>, "timestamp": <ms>}`, and decodes
  every record (one access-log JSON line each, several lines tolerated) into an event.

What it stored is readable over HTTP (`GET /_collector/users|companies|events|requests`), resettable
(`DELETE /_collector`), and the same from Python (`collector.users()`, `collector.reset()`, ...).
`collector.fail_next(status)` makes the next request(s) fail, to exercise a client's retries.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from localdev.net import LOOPBACK, BackgroundHttpServer

MOESIF_APPLICATION_ID_HEADER = "X-Moesif-Application-Id"
FIREHOSE_REQUEST_ID_HEADER = "X-Amz-Firehose-Request-Id"
FIREHOSE_ACCESS_KEY_HEADER = "X-Amz-Firehose-Access-Key"
# The path the dev stack and the tests point Firehose at; any Firehose-shaped POST is accepted.
FIREHOSE_PATH = "/firehose"

_KINDS_BY_PATH = {
    "/v1/users": "users",
    "/v1/users/batch": "users",
    "/v1/companies": "companies",
    "/v1/companies/batch": "companies",
    "/v1/events": "events",
    "/v1/events/batch": "events",
}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived (body already un-gzipped and parsed when it was JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup, as HTTP intends."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "receivedAt": self.received_at,
        }


class _Store:
    """What the collector received, guarded by one lock (the server is threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._items: dict[str, list[dict[str, Any]]] = {"users": [], "companies": [], "events": []}
        self._failures: list[tuple[int, str | None]] = []

    def add(self, request: ReceivedRequest, kind: str | None, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._requests.append(request)
            if kind:
                self._items[kind].extend(items)

    def items(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items[kind])

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            for items in self._items.values():
                items.clear()
            self._failures.clear()

    def plan_failures(self, status: int, count: int, path_prefix: str | None) -> None:
        with self._lock:
            self._failures.extend([(status, path_prefix)] * count)

    def take_failure(self, path: str) -> int | None:
        with self._lock:
            for index, (status, prefix) in enumerate(self._failures):
                if prefix is None or path.startswith(prefix):
                    del self._failures[index]
                    return status
        return None


class _BadRequest(Exception):
    pass


def _decode_firehose_records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each Firehose record is base64 of one access-log line (JSON); tolerate several lines."""
    events = []
    for record in body["records"]:
        try:
            text = base64.b64decode(record["data"], validate=True).decode("utf-8")
        except (KeyError, TypeError, binascii.Error, UnicodeDecodeError) as error:
            raise _BadRequest(f"record is not base64 UTF-8 text: {error}") from error
        for line in text.splitlines():
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise _BadRequest(f"record line is not JSON: {line[:80]!r}") from error
    return events


def _is_firehose_shaped(body: Any) -> bool:
    return isinstance(body, dict) and "requestId" in body and isinstance(body.get("records"), list)


def _make_handler(store: _Store) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - counts its handler class's methods
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stop() never waits on an idle keep-alive client.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet: tests read what was received through the API, not from stderr."""

        def do_GET(self) -> None:
            kind = self.path.removeprefix("/_collector/").split("?")[0]
            if kind == "requests":
                self._reply(HTTPStatus.OK, [r.as_dict() for r in store.requests()])
            elif self.path.startswith("/_collector/") and kind in ("users", "companies", "events"):
                self._reply(HTTPStatus.OK, store.items(kind))
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"nothing at {self.path}"})

        def do_DELETE(self) -> None:
            if self.path.rstrip("/") == "/_collector":
                store.reset()
                self._reply(HTTPStatus.NO_CONTENT, None)
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"nothing at {self.path}"})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            try:
                body = self._read_body()
            except _BadRequest as error:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            received = ReceivedRequest("POST", self.path, dict(self.headers.items()), body)
            planned_failure = store.take_failure(path)
            if planned_failure:
                store.add(received, None, [])
                self._reply(planned_failure, {"error": "failure planned by the test"})
            elif path in _KINDS_BY_PATH:
                self._accept_moesif_api(received, _KINDS_BY_PATH[path])
            elif _is_firehose_shaped(body):
                self._accept_firehose(received)
            else:
                store.add(received, None, [])
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"not a Moesif API path nor a Firehose delivery: {path}"})

        def _accept_moesif_api(self, received: ReceivedRequest, kind: str) -> None:
            if not received.header(MOESIF_APPLICATION_ID_HEADER):
                store.add(received, None, [])
                self._reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing {MOESIF_APPLICATION_ID_HEADER}"})
                return
            body = received.body
            items = body if isinstance(body, list) else [body]
            if not all(isinstance(item, dict) for item in items):
                store.add(received, None, [])
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "expected a JSON object or a list of objects"})
                return
            store.add(received, kind, items)
            self._reply(HTTPStatus.CREATED, None)

        def _accept_firehose(self, received: ReceivedRequest) -> None:
            request_id = received.body["requestId"]
            try:
                events = _decode_firehose_records(received.body)
            except _BadRequest as error:
                store.add(received, None, [])
                self._reply(
                    HTTPStatus.BAD_REQUEST,
                    {"requestId": request_id, "timestamp": _now_ms(), "errorMessage": str(error)},
                )
                return
            store.add(received, "events", events)
            self._reply(HTTPStatus.OK, {"requestId": request_id, "timestamp": _now_ms()})

        def _read_body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError) as error:
                    raise _BadRequest(f"body is not valid gzip: {error}") from error
            if not raw:
                return None
            try:
                return json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise _BadRequest(f"body is not JSON: {error}") from error

        def _reply(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _now_ms() -> int:
    return int(time.time() * 1000)


class MoesifCollector(BackgroundHttpServer):
    """Start with `start()` or `with MoesifCollector() as collector:`; port 0 picks a free port."""

    what = "Moesif collector"
    # Its clients (SDK, Firehose delivery) send one request per connection: stop() can wait for them.
    join_requests_on_stop = True

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        super().__init__(port, host)
        self._store = _Store()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self._store)

    @property
    def base_url(self) -> str:
        """What TOLLGATE_MOESIF_API_BASE is set to (the SDK appends /v1/...)."""
        return self.url

    @property
    def firehose_url(self) -> str:
        """Where a (local) Firehose HTTP-endpoint destination should deliver."""
        return self.base_url + FIREHOSE_PATH

    def users(self) -> list[dict[str, Any]]:
        return self._store.items("users")

    def companies(self) -> list[dict[str, Any]]:
        return self._store.items("companies")

    def events(self) -> list[dict[str, Any]]:
        """Moesif API events and decoded Firehose access-log records, in arrival order."""
        return self._store.items("events")

    def requests(self) -> list[ReceivedRequest]:
        return self._store.requests()

    def reset(self) -> None:
        self._store.reset()

    def fail_next(self, status: int = 503, count: int = 1, path_prefix: str | None = None) -> None:
        """Answer the next `count` POSTs (optionally only those under `path_prefix`) with `status`."""
        self._store.plan_failures(status, count, path_prefix)
