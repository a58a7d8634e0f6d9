"""API Gateway's usage-plan usage (GetUsage) for `make dev`: moto has no `get_usage`.

`UsageCounter` is what the local gateway counted: per usage plan, API key and UTC day, every call that passed
the key check (what a usage plan counts against a key's quota; throttling is not emulated).
`UsagePlanUsageProxy` sits in front of moto for API Gateway: it answers
`GET /usageplans/{id}/usage?startDate=...&endDate=...[&keyId=...]` from the counter, in API
Gateway's shape (`values`: key id -> one `[used, remaining]` pair per day, both dates included;
`remaining` is what the key has left of its quota in the quota period that day is in: the day, the
week from Monday, or the calendar month, UTC), and forwards every other request to moto unchanged. make dev gives its URL to the functions and
ops commands as AWS_ENDPOINT_URL_API_GATEWAY (boto3's endpoint for that one service), so
production code calls GetUsage exactly as it does in AWS.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localdev.net import BackgroundHttpServer, read_request_body

_USAGE_PATH = ("usageplans", "usage")  # /usageplans/{id}/usage
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
FORWARD_TIMEOUT_SECONDS = 30


class UsageCounter:
    """Calls per (usage plan id, API key id, UTC day), thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, date]] = Counter()
        self._lock = threading.Lock()

    def count(self, usage_plan_id: str, api_key_id: str, at: datetime | None = None) -> None:
        day = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
        with self._lock:
            self._counts[usage_plan_id, api_key_id, day] += 1

    def used(self, usage_plan_id: str, api_key_id: str, day: date) -> int:
        with self._lock:
            return self._counts[usage_plan_id, api_key_id, day]

    def keys(self, usage_plan_id: str) -> set[str]:
        with self._lock:
            return {key_id for plan_id, key_id, _ in self._counts if plan_id == usage_plan_id}


class UsagePlanUsageProxy(BackgroundHttpServer):
    """moto's API Gateway plus GetUsage from `counter`; `quotas` (usage plan id -> (limit, period))
    gives the `remaining` figures."""

    what = "API Gateway usage stand-in"

    def __init__(self, moto_url: str, counter: UsageCounter, quotas: dict[str, tuple[int, str]],
                 port: int = 0) -> None:
        super().__init__(port)
        self._moto_url = moto_url.rstrip("/")
        self._counter = counter
        self._quotas = quotas

    def usage(self, usage_plan_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        start, end = (date.fromisoformat(query[name][0]) for name in ("startDate", "endDate"))
        days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        keys = query.get("keyId") or sorted(self._counter.keys(usage_plan_id))
        values = {key_id: [[self._counter.used(usage_plan_id, key_id, day),
                            self._remaining(usage_plan_id, key_id, day)] for day in days]
                  for key_id in keys}
        return {"usagePlanId": usage_plan_id, "startDate": start.isoformat(), "endDate": end.isoformat(),
                "values": values}

    def _remaining(self, usage_plan_id: str, key_id: str, day: date) -> int:
        """The quota the key has left after `day`, in that day's quota period."""
        limit, period = self._quotas[usage_plan_id]
        if period == "DAY":
            start = day
        elif period == "WEEK":
            start = day - timedelta(days=day.weekday())
        else:
            start = day.replace(day=1)
        used = sum(self._counter.used(usage_plan_id, key_id, start + timedelta(days=offset))
                   for offset in range((day - start).days + 1))
        return max(limit - used, 0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                parts = split.path.strip("/").split("/")
                if self.command == "GET" and len(parts) == 3 and (parts[0], parts[2]) == _USAGE_PATH:
                    self._answer(200, {"Content-Type": "application/json"},
                                 json.dumps(proxy.usage(parts[1], parse_qs(split.query))).encode())
                    return
                self._answer(*proxy._forward(self.command, self.path, dict(self.headers.items()),
                                             read_request_body(self, FORWARD_TIMEOUT_SECONDS)))

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        outbound = urllib.request.Request(self._moto_url + path, data=body or None, method=method,
                                          headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP})
        try:
            with urllib.request.urlopen(outbound, timeout=FORWARD_TIMEOUT_SECONDS) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()
