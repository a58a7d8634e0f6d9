"""`make bench`'s key-authorizer figure: a warm cache miss (API Gateway's cache did not have the key)
through the real handler when the keys table's GetItem takes L ms: what the authorizer adds on top of
the one read (the offline format check, the SHA-256, the decision, the answer)."""

from __future__ import annotations

import time
from statistics import median, quantiles
from typing import Any

from testkit.key_items import key_item
from tollgate.domain import api_key_format
from tollgate.handlers.authorizer import Authorizer, plain_attribute

AUTHORIZER_TABLE_LATENCY_MS = 10.0
_METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/things"


class _SlowKeysTable:
    """The keys table as the handler reads it, each GetItem taking `latency_s`."""

    def __init__(self, items: dict[str, dict[str, Any]], latency_s: float) -> None:
        self._items, self._latency_s = items, latency_s

    def item(self, key_hash: str) -> dict[str, Any] | None:
        time.sleep(self._latency_s)
        return self._items.get(key_hash)


def cache_miss_ms(latency_ms: float, runs: int) -> list[float]:
    """Milliseconds of `runs` warm cache misses of a live key."""
    key = api_key_format.new_key("tgk", "live")
    stored = {name: plain_attribute(value) for name, value in key_item(key, "U" * 40).items()}
    authorizer = Authorizer(_SlowKeysTable({api_key_format.key_hash(key): stored}, latency_ms / 1000))
    event = {"type": "REQUEST", "methodArn": _METHOD_ARN, "headers": {"x-api-key": key}}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = authorizer(event)
        timings.append((time.perf_counter() - started) * 1000)
        if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            raise RuntimeError(f"the authorizer denied a live key: {answer}")
    return timings


def authorizer_line(latency_ms: float, runs: int) -> str:
    timings = cache_miss_ms(latency_ms, max(runs, 2))
    p95 = quantiles(timings, n=20)[-1]
    return (
        f"key authorizer cache miss         p50 {median(timings):.1f} / p95 {p95:.1f} ms (warm, GetItem +{latency_ms:g} "
        f"ms: {median(timings) - latency_ms:.2f} ms of its own)"
    )
