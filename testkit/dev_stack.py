"""What the tests do to a running `make dev` (localdev.__main__.DevStackProcess) as a user or
Stripe would: plain HTTP requests, a sign-up through the local API Gateway, and waiting for what
arrives asynchronously (webhooks, the ledger, scheduled runs)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tollgate import contract

# localstripe delivers its own events asynchronously; the ledger flushes every 2 s.
WAIT_SECONDS = 15


def request(url: str, body: dict | None = None, headers: dict[str, str] | None = None,
            method: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    outgoing = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                      headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"raw": raw.decode(errors="replace")}


def sign_up(stack: Any) -> dict:
    """A fresh customer signed up through the stack's API, as the signup page does: its 201 body."""
    status, body = request(stack.urls["api"] + contract.ROUTE_REGISTER,
                           {"email": f"{uuid.uuid4().hex[:10]}@example.com", "firstname": "Ann", "lastname": "Lee"},
                           {"Origin": stack.urls["site"], contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())})
    assert status == 201, body
    return body


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
