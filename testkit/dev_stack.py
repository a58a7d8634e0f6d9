"""Signing up on a running `make dev` (localdev.__main__.DevStackProcess) the way a customer does
with `verify_email` on: POST /register on the API, then the link from the local mailbox, posted to
the site's own /api/signup/confirm."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from tollgate import contract


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read() or b"null")


def mailbox_token(urls: dict[str, str], email: str, fragment: str, timeout: float = 10.0) -> str:
    """The token of the newest `#<fragment>=` link the local mailbox holds for `email`."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(urls["mailbox"] + "/messages.json", timeout=10) as answer:
            messages = [m for m in json.loads(answer.read()) if m["to"] == email]
        for message in messages:  # newest first
            found = re.search(rf"#{fragment}=([A-Za-z0-9_-]+)", message["body"])
            if found:
                return found.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no #{fragment}= link to {email} in the mailbox")
        time.sleep(0.1)


def sign_up(urls: dict[str, str], email: str | None = None) -> dict[str, Any]:
    """A new customer through the emailed link: the 201 body (key included)."""
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    status, _, body = post_json(urls["api"] + contract.ROUTE_REGISTER,
                                {"email": email, "firstname": "Ann", "lastname": "Lee"},
                                {"Origin": urls["site"], contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())})
    assert status == 202, body
    status, _, created = post_json(urls["site"] + contract.ROUTE_SIGNUP_CONFIRM,
                                   {"token": mailbox_token(urls, email, "confirm")})
    assert status == 201, created
    return created
