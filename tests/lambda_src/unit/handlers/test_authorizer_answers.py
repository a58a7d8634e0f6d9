"""The authorizer handler's answers, as API Gateway reads them: the grant as principal, context and
usage key on a policy for the whole stage; the deny; one read per call, none for junk; never the key."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest

from tollgate import contract
from tollgate.domain import api_key_format
from tollgate.handlers.authorizer import DENIED_PRINCIPAL, Authorizer

NOW = 1_800_000_000
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/things"
STAGE_RESOURCE = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"
KEY = api_key_format.new_key("tgk", "live")


class FakeKeysTable:
    """The keys table by key hash, counting reads."""

    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self._items = items
        self.reads: list[str] = []

    def item(self, key_hash: str) -> dict[str, Any] | None:
        self.reads.append(key_hash)
        return self._items.get(key_hash)


def stored(key: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    return {
        hashlib.sha256(key.encode()).hexdigest(): {
            contract.KEYS_ATTR_STATE: "active",
            contract.KEYS_ATTR_ACCOUNT_STATUS: "active",
            contract.KEYS_ATTR_ACCOUNT_ID: "acct_A1b2C3d4E5f6G7h8I9j0",
            contract.KEYS_ATTR_PLAN: "pro",
            contract.KEYS_ATTR_HINT: api_key_format.key_hint(key),
            contract.KEYS_ATTR_USAGE_KEY: "U" * 40,
            **overrides,
        }
    }


def request(key: str | None, header: str = "x-api-key") -> dict[str, Any]:
    """A REQUEST authorizer event as API Gateway sends it (headers as the client wrote them)."""
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/{proxy+}",
        "path": "/v1/things",
        "httpMethod": "GET",
        "headers": {"Host": "api.example.com", **({header: key} if key is not None else {})},
    }


def test_a_live_key_is_allowed_as_its_account_with_the_accounts_usage_key_on_the_whole_stage() -> None:
    answer = Authorizer(FakeKeysTable(stored(KEY)), clock=lambda: NOW)(request(KEY))
    assert answer == {
        "principalId": "acct_A1b2C3d4E5f6G7h8I9j0",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": STAGE_RESOURCE}],
        },
        "context": {
            "accountId": "acct_A1b2C3d4E5f6G7h8I9j0",
            "plan": "pro",
            "keyHint": KEY[-4:],
            # what the stage's own 429 QUOTA_EXCEEDED (the usage plan's quota) then says
            "usageLimit": "quota_exceeded",
            "usageLimitUntil": "",
            "usageLimitMessage": contract.USAGE_LIMIT_MESSAGES["quota_exceeded"],
        },
        "usageIdentifierKey": "U" * 40,
    }


LIMIT_REACHED_KEY = "L" * 40


@pytest.mark.parametrize(
    "reason",
    [
        contract.USAGE_LIMIT_QUOTA_EXCEEDED,
        contract.USAGE_LIMIT_SPEND_CAP_REACHED,
        contract.USAGE_LIMIT_CREDITS_EXHAUSTED,
    ],
)
def test_an_account_over_a_usage_limit_is_allowed_on_the_limit_reached_key_naming_the_limit(reason) -> None:
    """The stage then answers its 429 QUOTA_EXCEEDED itself (quota 0), whose body names the limit."""
    items = stored(KEY, **{contract.KEYS_ATTR_USAGE_LIMIT: reason, contract.KEYS_ATTR_USAGE_LIMIT_UNTIL: NOW + 60})

    answer = Authorizer(FakeKeysTable(items), clock=lambda: NOW, limit_reached_key=LIMIT_REACHED_KEY)(request(KEY))

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["usageIdentifierKey"] == LIMIT_REACHED_KEY
    assert answer["context"]["usageLimit"] == reason
    assert answer["context"]["usageLimitUntil"] == "2027-01-15T08:01:00Z"
    assert answer["context"]["usageLimitMessage"] == contract.USAGE_LIMIT_MESSAGES[reason]


def test_a_usage_limit_lifts_by_itself_at_its_end() -> None:
    items = stored(KEY, **{contract.KEYS_ATTR_USAGE_LIMIT: "quota_exceeded", contract.KEYS_ATTR_USAGE_LIMIT_UNTIL: NOW})

    answer = Authorizer(FakeKeysTable(items), clock=lambda: NOW, limit_reached_key=LIMIT_REACHED_KEY)(request(KEY))

    assert answer["usageIdentifierKey"] == "U" * 40
    assert answer["context"]["usageLimitUntil"] == ""


def test_a_limited_account_is_denied_where_no_limit_reached_key_exists(monkeypatch) -> None:
    monkeypatch.delenv(contract.ENV_LIMIT_REACHED_KEY, raising=False)
    items = stored(
        KEY, **{contract.KEYS_ATTR_USAGE_LIMIT: "quota_exceeded", contract.KEYS_ATTR_USAGE_LIMIT_UNTIL: NOW + 1}
    )

    answer = Authorizer(FakeKeysTable(items), clock=lambda: NOW)(request(KEY))

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_the_header_name_is_matched_whatever_its_case() -> None:
    answer = Authorizer(FakeKeysTable(stored(KEY)), clock=lambda: NOW)(request(KEY, header="X-Api-Key"))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    "overrides",
    [
        {contract.KEYS_ATTR_STATE: "revoked"},
        {contract.KEYS_ATTR_ACCOUNT_STATUS: "suspended"},
        {contract.KEYS_ATTR_STATE: "rotating_out", contract.KEYS_ATTR_NOT_AFTER: NOW},
    ],
)
def test_a_key_that_may_not_call_is_denied_with_no_usage_key(overrides: dict[str, Any]) -> None:
    answer = Authorizer(FakeKeysTable(stored(KEY, **overrides)), clock=lambda: NOW)(request(KEY))
    assert answer["principalId"] == DENIED_PRINCIPAL
    assert answer["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": STAGE_RESOURCE,
    }
    assert "usageIdentifierKey" not in answer


def test_an_unknown_key_costs_one_read_and_junk_none() -> None:
    keys = FakeKeysTable({})
    authorizer = Authorizer(keys, clock=lambda: NOW)
    assert (
        authorizer(request(api_key_format.new_key("tgk", "live")))["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    )
    assert len(keys.reads) == 1
    for junk in ("", "short", KEY[:-1] + ("0" if KEY[-1] != "0" else "1")):
        assert authorizer(request(junk))["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert len(keys.reads) == 1


def test_a_legacy_key_value_is_looked_up_by_its_hash() -> None:
    legacy = "LegacyApiGatewayKeyValue0123456789abcdef"
    keys = FakeKeysTable(stored(legacy))
    assert Authorizer(keys, clock=lambda: NOW)(request(legacy))["usageIdentifierKey"] == "U" * 40
    assert keys.reads == [hashlib.sha256(legacy.encode()).hexdigest()]


def test_the_log_names_the_account_and_the_hint_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    other = api_key_format.new_key("tgk", "test")
    with caplog.at_level(logging.INFO, logger="tollgate.handlers.authorizer"):
        authorizer = Authorizer(FakeKeysTable(stored(KEY)), clock=lambda: NOW)
        authorizer(request(KEY))
        authorizer(request(other))
    assert "acct_A1b2C3d4E5f6G7h8I9j0" in caplog.text and KEY[-4:] in caplog.text
    assert KEY not in caplog.text and other not in caplog.text
    assert hashlib.sha256(KEY.encode()).hexdigest() not in caplog.text
