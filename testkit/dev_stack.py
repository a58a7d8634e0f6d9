"""What the tests do to a running `make dev` (localdev.__main__.DevStackProcess) as a user or
Stripe would: plain HTTP requests, a sign-up the way a customer does with `verify_email` on
(POST /register on the API, then the link from the local mailbox, posted to the site's own
/api/signup/confirm), and waiting for what arrives asynchronously (webhooks, the ledger, scheduled
runs)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tollgate import contract
from tollgate.domain.api_key_format import key_hash

# localstripe delivers its own events asynchronously; the ledger flushes every 2 s.
WAIT_SECONDS = 15


def _exchange(
    url: str, body: Any, headers: dict[str, str] | None, method: str | None
) -> tuple[int, dict[str, str], bytes]:
    """One JSON request: (status, headers, raw body), an HTTP error's answer included."""
    data = json.dumps(body).encode() if body is not None else None
    outgoing = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def request(
    url: str, body: dict | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, dict]:
    """(status, JSON body); a body that is not JSON comes back as {"raw": text}."""
    status, _, raw = _exchange(url, body, headers, method)
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"raw": raw.decode(errors="replace")}


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """(status, response headers, JSON body or None): for the answers whose headers matter (cookies)."""
    status, answer_headers, raw = _exchange(url, body, headers, "POST")
    return status, answer_headers, json.loads(raw or b"null")


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


def sign_up(urls: dict[str, str], email: str | None = None, plan: str | None = None) -> dict[str, Any]:
    """A new customer (on `plan`, else the default) through the emailed link: the 201 body (key included)."""
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    status, _, body = post_json(
        urls["api"] + contract.ROUTE_REGISTER,
        {"email": email, "firstname": "Ann", "lastname": "Lee", **({"plan": plan} if plan else {})},
        {"Origin": urls["site"], contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())},
    )
    assert status == 202, body
    status, _, created = post_json(
        urls["site"] + contract.ROUTE_SIGNUP_CONFIRM, {"token": mailbox_token(urls, email, "confirm")}
    )
    assert status == 201, created
    return created


def usage_key_id(stack: Any, key: str) -> str:
    """The id of the API Gateway key (the usage key, never shown) of the account holding the
    Tollgate key `key`, in the running `make dev` stack (`stack`: localdev's DevStackProcess), found
    as the authorizer finds the account: by the key's hash in the keys table."""
    environment = json.loads(stack.stack_file.read_text())["environment"]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.urls["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = dynamodb.get_item(
        TableName=environment[contract.ENV_KEYS_TABLE], Key={contract.KEYS_PARTITION_KEY: {"S": key_hash(key)}}
    )["Item"]
    row = dynamodb.get_item(
        TableName=environment[contract.ENV_ACCOUNTS_TABLE],
        ConsistentRead=True,
        Key={contract.ACCOUNTS_PARTITION_KEY: item[contract.KEYS_ATTR_ACCOUNT]},
    )["Item"]
    return row["apiKeyId"]["S"]


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


# `make dev -c authorizer_cache_seconds=0`: the local gateway asks the key authorizer on every call, as
# a stage with that setting does. For the tests that watch a change take effect (a key revoked, an
# account suspended or activated): with the stage's cache they would have to wait out its TTL. The
# cache itself, and the bound it puts on such changes, is tested on an injected clock
# (tests/localdev/test_gateway.py, tests/localdev/test_local_authorizer.py).
UNCACHED_AUTHORIZER = {"authorizer_cache_seconds": "0"}


def card_first_context() -> dict[str, str]:
    """`make dev -c plans=...`: cdk.json's plans with the default (paid) one needing a card before its
    key works, as a deployment whose operator turned require_payment_method on for it."""
    from infra.settings import load_cdk_json_context

    plans = load_cdk_json_context("cdk.json")["plans"]
    return {"plans": json.dumps([{**plans[0], "require_payment_method": True}, *plans[1:]])}


def small_free_quota_context(quota: int) -> dict[str, str]:
    """`make dev -c plans=...`: cdk.json's plans with a free plan of `quota` calls a month and room to
    make them at once (a test reaches its 80 % and 100 % in a few calls, not 1,000 at 2 a second)."""
    from infra.settings import load_cdk_json_context

    plans = load_cdk_json_context("cdk.json")["plans"]
    return {
        "plans": json.dumps(
            [
                {**plan, "quota_limit": quota, "throttle_rate_limit": 50, "throttle_burst_limit": 100}
                if not plan["stripe_price_id"]
                else plan
                for plan in plans
            ]
        )
    }


# A prepaid plan as docs/prepaid-credits.md shows it: a call takes 0.001 USD of credit, 10 USD buys 10.
PREPAID_PLAN_SETTINGS = {
    "id": "prepaid",
    "name": "Prepaid",
    "description": "Buy credit, spend it call by call.",
    "price_text": "$0.001 per call from prepaid credit",
    "throttle_rate_limit": 10,
    "throttle_burst_limit": 20,
    "quota_limit": 100000,
    "quota_period": "MONTH",
    "stripe_price_id": "",
    "require_payment_method": False,
    "billing": "prepaid",
    "unit_price": "0.001",
    "currency": "usd",
    "credit_packs": [
        {"id": "ten", "credit": "10.00", "price": "10.00"},
        {"id": "fifty", "credit": "55.00", "price": "50.00"},
    ],
}


def prepaid_context() -> dict[str, str]:
    """`make dev -c plans=...`: cdk.json's plans and a prepaid one (PREPAID_PLAN_SETTINGS)."""
    from infra.settings import load_cdk_json_context

    return {"plans": json.dumps([*load_cdk_json_context("cdk.json")["plans"], PREPAID_PLAN_SETTINGS])}


def cdk_json_plans() -> tuple:
    """cdk.json's plans, as the stack and `make dev` read them (for a site server on its own)."""
    from infra.settings import Settings, load_cdk_json_context

    return Settings.from_context(load_cdk_json_context("cdk.json")).plans
