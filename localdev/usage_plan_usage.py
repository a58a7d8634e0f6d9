"""API Gateway's usage-plan usage (GetUsage) for `make dev`: moto lacks it.

`UsageCounter` is one usage plan's counting as the local gateway does it (one per plan, in a dict by
usage plan id: `UsageCounters`): per API key and UTC day,
every call that passed the key check and was within the key's quota (what a usage plan counts;
throttling is not emulated). A key's quota is the plan's for each period (the day, the week from
Monday, or the calendar month, UTC).
`UsagePlanUsageProxy` sits in front of moto for API Gateway: it answers
`GET /usageplans/{id}/usage?startDate=...&endDate=...[&keyId=...]` from the counter, in API
Gateway's shape (`values`: key id -> one `[used, remaining]` pair per day, both dates included;
`remaining` is what the key has left of its quota in the quota period that day is in:
https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html); it forwards every other
request to moto unchanged. make dev gives its URL to the functions and ops commands as
AWS_ENDPOINT_URL_API_GATEWAY (boto3's endpoint for that one service), so production code calls
GetUsage exactly as it does in AWS.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localdev.net import BackgroundHttpServer, read_request_body

_USAGE_PATH = ("usageplans", "usage")  # GET /usageplans/{id}/usage
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
FORWARD_TIMEOUT_SECONDS = 30


class UsageCounter:
    """Calls per (API key id, UTC day) against a per-key quota of `quota_limit` a `quota_period` (None: a
    usage plan with no quota, a pooled plan's, which only counts); thread-safe."""

    def __init__(self, quota_limit: int | None, quota_period: str = "MONTH") -> None:
        self.quota_limit = quota_limit
        self._quota_period = quota_period
        self._counts: Counter[tuple[str, date]] = Counter()
        self._lock = threading.Lock()

    def take(self, api_key_id: str, at: datetime | None = None) -> bool:
        """Count a call if the key has quota left (False: API Gateway's 429 'Limit Exceeded')."""
        day = _utc_day(at)
        with self._lock:
            if self.quota_limit is not None and self._remaining(api_key_id, day) <= 0:
                return False
            self._counts[api_key_id, day] += 1
            return True

    def used(self, api_key_id: str, day: date) -> int:
        with self._lock:
            return self._counts[api_key_id, day]

    def keys(self) -> set[str]:
        with self._lock:
            return {key_id for key_id, _ in self._counts}

    def remaining(self, api_key_id: str, day: date) -> int:
        """The quota the key has left after `day`, in that day's quota period."""
        with self._lock:
            return self._remaining(api_key_id, day)

    def _remaining(self, key_id: str, day: date) -> int:
        if self.quota_limit is None:
            return 0  # (GetUsage of a plan without a quota: nothing asks it for a remainder)
        return max(self.quota_limit - self._used_in_period(key_id, day), 0)

    def _used_in_period(self, key_id: str, day: date) -> int:
        start = self._period_start(day)
        return sum(self._counts[key_id, start + timedelta(days=offset)] for offset in range((day - start).days + 1))

    def _period_start(self, day: date) -> date:
        if self._quota_period == "DAY":
            return day
        if self._quota_period == "WEEK":
            return day - timedelta(days=day.weekday())
        return day.replace(day=1)


def get_usage(
    counter: UsageCounter, usage_plan_id: str, query: dict[str, list[str]]
) -> tuple[int, dict[str, str], bytes]:
    """GetUsage's answer from `counter`: each key's `[used, remaining]` per day, both dates included."""
    start, end = (date.fromisoformat(query[name][0]) for name in ("startDate", "endDate"))
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    keys = query.get("keyId") or sorted(counter.keys())
    values = {key_id: [[counter.used(key_id, day), counter.remaining(key_id, day)] for day in days] for key_id in keys}
    return _json(
        200,
        {"usagePlanId": usage_plan_id, "startDate": start.isoformat(), "endDate": end.isoformat(), "values": values},
    )


def _utc_day(at: datetime | None) -> date:
    return (at or datetime.now(UTC)).astimezone(UTC).date()


UsageCounters = dict[str, UsageCounter]  # usage plan id -> its counting


def counters_for(quotas: dict[str, tuple[int | None, str]]) -> UsageCounters:
    """One UsageCounter per usage plan, from usage plan id -> (quota limit, quota period)."""
    return {usage_plan_id: UsageCounter(limit, period) for usage_plan_id, (limit, period) in quotas.items()}


class UsagePlanUsageProxy(BackgroundHttpServer):
    """moto's API Gateway plus GetUsage on `counters` (one per usage plan)."""

    what = "API Gateway usage stand-in"

    def __init__(self, moto_url: str, counters: UsageCounters, port: int = 0) -> None:
        super().__init__(port)
        self._moto_url = moto_url.rstrip("/")
        self._counters = counters

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
                    self._answer(*get_usage(proxy._counters[parts[1]], parts[1], parse_qs(split.query)))
                    return
                body = read_request_body(self, FORWARD_TIMEOUT_SECONDS)
                self._answer(*proxy._forward(self.command, self.path, dict(self.headers.items()), body))

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server dispatches by these names

        return Handler

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        outbound = urllib.request.Request(
            self._moto_url + path,
            data=body or None,
            method=method,
            headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP},
        )
        try:
            with urllib.request.urlopen(outbound, timeout=FORWARD_TIMEOUT_SECONDS) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()


def _json(status: int, answer: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()
