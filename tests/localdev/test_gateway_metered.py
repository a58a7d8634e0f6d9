"""The local gateway's metered path as the stage runs it: the key authorizer (the real handler, its cache on
the test's clock), the account's usage key and its usage plan's quota, the backend's headers, the access log."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

import pytest

from localdev.bootstrap import aws_client
from localdev.gateway import LocalGateway
from localdev.usage_plan_usage import UsageCounter
from testkit.clock import Clock
from testkit.key_items import put_key
from testkit.local_gateway import (
    BACKEND_SECRET,
    CACHE_SECONDS,
    FIREHOSE_ACCESS_KEY,
    SITE_ORIGIN,
    EchoBackend,
    call,
    wait_for_events,
)
from tollgate import contract
from tollgate.domain import api_key_format

FORBIDDEN = (403, {"error": "Forbidden"})


def test_metered_route_without_a_key_is_forbidden(gateway: LocalGateway) -> None:
    status, _, body = call(f"{gateway.url}/hello")
    assert (status, json.loads(body)) == FORBIDDEN


def test_metered_route_with_an_unknown_key_is_forbidden(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    for unknown in (plan_key["value"] + "x", api_key_format.new_key("tgk", "test")):
        status, _, body = call(f"{gateway.url}/hello", headers={"x-api-key": unknown})
        assert (status, json.loads(body)) == FORBIDDEN


def test_the_usage_keys_own_value_is_no_credential(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    """With the key source AUTHORIZER, a client presenting the account's API Gateway key gets the
    authorizer's deny: only Tollgate keys (and imported legacy ones) resolve."""
    status, _, body = call(f"{gateway.url}/hello", headers={"x-api-key": plan_key["usage_key"]})
    assert (status, json.loads(body)) == FORBIDDEN


def test_valid_key_reaches_the_backend_with_path_and_query(
    gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend
) -> None:
    status, _, body = call(f"{gateway.url}/v1/things?page=2", headers={"x-api-key": plan_key["value"]})
    assert status == 200
    assert json.loads(body) == {"echo": "/v1/things?page=2"}
    assert backend.received[-1]["path"] == "/v1/things?page=2"


def test_the_backend_gets_the_stages_secret_header_the_account_and_its_usage_key_id_whatever_the_client_sent(
    gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend
) -> None:
    spoofed = {
        contract.BACKEND_SECRET_HEADER: "guessed",
        contract.BACKEND_API_KEY_ID_HEADER: "someone-else",
        contract.BACKEND_ACCOUNT_ID_HEADER: "acct_someone_else",
    }
    assert call(f"{gateway.url}/v1/things", headers={"x-api-key": plan_key["value"], **spoofed})[0] == 200

    received = {name.lower(): value for name, value in backend.received[-1]["headers"].items()}
    assert received[contract.BACKEND_SECRET_HEADER] == BACKEND_SECRET
    assert received[contract.BACKEND_API_KEY_ID_HEADER] == plan_key["id"]
    assert received[contract.BACKEND_ACCOUNT_ID_HEADER] == plan_key["account_id"]
    assert not {"guessed", "someone-else", "acct_someone_else"} & set(received.values())


def test_the_root_path_is_metered_too(gateway: LocalGateway, plan_key: dict[str, str]) -> None:
    assert call(f"{gateway.url}/")[0] == 403
    assert call(f"{gateway.url}/", headers={"x-api-key": plan_key["value"]})[0] == 200


def test_a_key_past_its_quota_gets_api_gateways_429_and_never_reaches_the_backend(
    gateway: LocalGateway, plan_key: dict[str, str], backend: EchoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = UsageCounter(quota_limit=1)
    monkeypatch.setattr(gateway, "_usage", defaultdict(lambda: counter))  # the key's usage plan counts in `counter`
    assert call(f"{gateway.url}/v1/first", headers={"x-api-key": plan_key["value"]})[0] == 200
    status, _, body = call(f"{gateway.url}/v1/second", headers={"x-api-key": plan_key["value"]})
    assert status == 429
    assert json.loads(body) == {
        "error": "This account has used its plan's quota for the current period: see your plan and upgrade on your "
        "account page (accountUrl).",
        "code": contract.USAGE_LIMIT_QUOTA_EXCEEDED,
        "until": "",  # the usage plan's own period, which API Gateway keeps
        "accountUrl": f"{SITE_ORIGIN}/{contract.ACCOUNT_PAGE}",
        "accountId": plan_key["account_id"],  # the authorizer's principal; the usage key's id is never shown
    }
    assert backend.received[-1]["path"] == "/v1/first"


@pytest.mark.parametrize("reason", [contract.USAGE_LIMIT_QUOTA_EXCEEDED, contract.USAGE_LIMIT_SPEND_CAP_REACHED])
def test_an_account_over_a_usage_limit_gets_the_stages_429_naming_it_and_calls_again_once_it_lifts(
    gateway: LocalGateway,
    plan_key: dict[str, str],
    backend: EchoBackend,
    emulators: Any,
    keys_table: str,
    clock: Clock,
    limit_reached: Any,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The authorizer allows it on the "limit reached" key, whose usage plan's quota is 0 (counted as the
    stage counts it): the stage's own 429 QUOTA_EXCEEDED, no backend call."""
    monkeypatch.setattr(
        gateway,
        "_usage",
        {
            plan: UsageCounter(0 if plan == limit_reached.usage_plan_id else 100)
            for plan in gateway._deployment.usage_plan_ids
        },
    )
    headers, until = {"x-api-key": plan_key["value"]}, 2_000_000_000  # 2033-05-18T03:33:20Z
    dynamodb = aws_client("dynamodb", emulators)
    put_key(
        dynamodb,
        keys_table,
        plan_key["value"],
        plan_key["usage_key"],
        account_id=plan_key["account_id"],
        **{contract.KEYS_ATTR_USAGE_LIMIT: reason, contract.KEYS_ATTR_USAGE_LIMIT_UNTIL: until},
    )
    calls_before = len(backend.received)

    status, _, body = call(f"{gateway.url}/v1/limited", headers=headers)

    assert (status, json.loads(body)) == (
        429,
        {
            "error": contract.USAGE_LIMIT_MESSAGES[reason],
            "code": reason,
            "until": "2033-05-18T03:33:20Z",
            "accountUrl": f"{SITE_ORIGIN}/{contract.ACCOUNT_PAGE}",
            "accountId": plan_key["account_id"],
        },
    )
    assert len(backend.received) == calls_before
    # the next count lifts it (its key items lose it); the cached answer holds until the cache TTL
    put_key(dynamodb, keys_table, plan_key["value"], plan_key["usage_key"], account_id=plan_key["account_id"])
    clock.advance(CACHE_SECONDS)
    assert call(f"{gateway.url}/v1/again", headers=headers)[0] == 200


def test_every_key_of_an_account_spends_the_one_quota_of_its_usage_key(
    gateway: LocalGateway, plan_key: dict[str, str], emulators: Any, keys_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = UsageCounter(quota_limit=3)
    monkeypatch.setattr(gateway, "_usage", defaultdict(lambda: counter))
    second = api_key_format.new_key("tgk", "test")
    put_key(
        aws_client("dynamodb", emulators), keys_table, second, plan_key["usage_key"], account_id=plan_key["account_id"]
    )
    statuses = [
        call(f"{gateway.url}/spend", headers={"x-api-key": key})[0]
        for key in (plan_key["value"], second, plan_key["value"], second)
    ]
    assert statuses == [200, 200, 200, 429]


def test_a_usage_key_outside_every_usage_plan_is_forbidden(
    gateway: LocalGateway, apigateway: Any, emulators: Any, keys_table: str
) -> None:
    orphan, key = apigateway.create_api_key(name="not-in-plan", enabled=True), api_key_format.new_key("tgk", "test")
    put_key(aws_client("dynamodb", emulators), keys_table, key, orphan["value"])
    assert call(f"{gateway.url}/hello", headers={"x-api-key": key})[0] == 403


def test_a_disabled_usage_key_is_forbidden_on_the_very_next_request_whatever_the_cache_holds(
    gateway: LocalGateway, plan_key: dict[str, str], apigateway: Any
) -> None:
    headers = {"x-api-key": plan_key["value"]}
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200
    apigateway.update_api_key(
        apiKey=plan_key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 403


@pytest.mark.parametrize(
    "change",
    [{contract.KEYS_ATTR_STATE: "revoked"}, {contract.KEYS_ATTR_ACCOUNT_STATUS: "suspended"}],
    ids=["revoked", "suspended"],
)
def test_a_refused_key_keeps_calling_for_at_most_the_cache_ttl(
    gateway: LocalGateway,
    plan_key: dict[str, str],
    emulators: Any,
    keys_table: str,
    clock: Clock,
    change: dict[str, str],
) -> None:
    headers = {"x-api-key": plan_key["value"]}
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200
    put_key(
        aws_client("dynamodb", emulators),
        keys_table,
        plan_key["value"],
        plan_key["usage_key"],
        account_id=plan_key["account_id"],
        **change,
    )
    clock.advance(CACHE_SECONDS - 1)
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 200  # the cached allow
    clock.advance(1)
    status, _, body = call(f"{gateway.url}/hello", headers=headers)
    assert (status, json.loads(body)) == FORBIDDEN
    clock.advance(CACHE_SECONDS)  # the deny was cached in its turn; nothing else changes it
    assert call(f"{gateway.url}/hello", headers=headers)[0] == 403


def test_each_request_sends_one_access_log_record_naming_the_account_and_hint_never_the_key(
    gateway: LocalGateway, plan_key: dict[str, str], moesif_collector: Any
) -> None:
    path = f"/logged/{uuid.uuid4().hex}"
    assert call(f"{gateway.url}{path}", headers={"x-api-key": plan_key["value"], "User-Agent": "t/1"})[0] == 200
    assert call(f"{gateway.url}{path}")[0] == 403

    records = wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "403")
    records += wait_for_events(moesif_collector, lambda e: e.get("path") == f"/prod{path}" and e["status"] == "200")
    allowed, refused = records[-1], records[0]
    assert len([e for e in moesif_collector.events() if e.get("path") == f"/prod{path}"]) == 2
    assert allowed["user"] == allowed["principalId"] == plan_key["account_id"]
    assert allowed["apiKeyId"] == plan_key["id"] and allowed["keyHint"] == plan_key["value"][-4:]
    assert allowed["resourcePath"] == "/{proxy+}" and allowed["httpMethod"] == "GET"
    assert allowed["requestUserAgentHeader"] == "t/1" and allowed["stage"] == "prod"
    assert refused["user"] == "-" and refused["errorResponseType"] == "UNAUTHORIZED"

    deliveries = [r for r in moesif_collector.requests() if r.header("X-Amz-Firehose-Request-Id")]
    assert deliveries and all(r.header("X-Amz-Firehose-Access-Key") == FIREHOSE_ACCESS_KEY for r in deliveries)
    everything_received = json.dumps([r.as_dict() for r in moesif_collector.requests()])
    assert plan_key["value"] not in everything_received and plan_key["usage_key"] not in everything_received
