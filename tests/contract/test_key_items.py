"""The KeyItems port: FakeKeyItems and DynamoKeyItems on moto answer alike. An item is written once,
followed only by copies at least as new as the one it holds, never brought back once removed, and on
DynamoDB holds exactly the attributes the authorizer reads (contract.KEYS_*), never a key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from testkit.fake_ports import FakeKeyItems
from tollgate import contract
from tollgate.adapters.dynamo_key_items import DynamoKeyItems
from tollgate.domain.api_key_format import key_hash, key_hint, new_key
from tollgate.domain.errors import ConcurrentUpdate
from tollgate.domain.key_items import KeyItem
from tollgate.domain.key_ring import KeyState
from tollgate.domain.ports.keys import KeyItems


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def items(request) -> Iterator[KeyItems]:
    if request.param == "fake":
        yield FakeKeyItems()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoKeyItems(request.getfixturevalue("aws_clients").client("dynamodb"), aws.keys_table)


def an_item(version: int = 3, key: str | None = None) -> KeyItem:
    key = key or new_key("tgk", "test")
    return KeyItem(
        key_hash=key_hash(key),
        hint=key_hint(key),
        account=f"{uuid.uuid4().hex}@example.com",
        account_id="acct_" + uuid.uuid4().hex[:20],
        state=KeyState.ACTIVE,
        created_at=100,
        account_status="active",
        plan="free",
        usage_key="usage" + uuid.uuid4().hex,
        account_version=version,
    )


def test_an_item_is_stored_whole_and_found_by_its_hash_only(items):
    item = an_item()

    items.put(item)

    assert items.get(item.key_hash) == item and item.key_id == item.key_hash[: contract.KEY_ID_LENGTH]
    assert items.get(key_hash(new_key("tgk", "test"))) is None


def test_a_hash_is_never_written_over(items):
    item = an_item()
    items.put(item)

    with pytest.raises(ConcurrentUpdate):
        items.put(replace(item, account="mallory@example.com"))

    assert items.get(item.key_hash).account == item.account


def test_a_copy_as_new_or_newer_is_followed_an_older_one_is_refused(items):
    item = an_item(version=3)
    items.put(item)
    suspended = replace(
        item, account_status="suspended", plan="pro", account_version=5, state=KeyState.ROTATING_OUT, not_after=900
    )

    assert items.follow(suspended) and items.get(item.key_hash) == suspended
    assert items.follow(suspended)  # the same copy again: idempotent
    assert not items.follow(replace(item, account_status="active", account_version=4))
    assert items.get(item.key_hash) == suspended


def test_follow_ends_a_key_with_its_ttl_and_clears_the_grace(items):
    item = an_item()
    items.put(replace(item, state=KeyState.ROTATING_OUT, not_after=500))
    retired = replace(item, state=KeyState.RETIRED, account_version=4, expires_at=500 + 90 * 86400)

    assert items.follow(retired)

    stored = items.get(item.key_hash)
    assert (stored.state, stored.not_after, stored.expires_at) == (KeyState.RETIRED, None, retired.expires_at)


def test_follow_sets_and_clears_the_rows_usage_limit(items):
    item = an_item()
    items.put(item)
    limited = replace(item, account_version=4, usage_limit=contract.USAGE_LIMIT_QUOTA_EXCEEDED, usage_limit_until=900)

    assert items.follow(limited) and items.get(item.key_hash) == limited
    assert items.follow(replace(item, account_version=5)) and items.get(item.key_hash) == replace(
        item, account_version=5
    )


def test_follow_never_brings_a_removed_item_back(items):
    item = an_item()
    items.put(item)

    items.delete(item.key_hash)
    items.delete(item.key_hash)  # removing a missing item is not an error

    assert not items.follow(replace(item, account_version=9)) and items.get(item.key_hash) is None


def test_on_dynamodb_the_item_holds_the_contract_attributes_and_no_key(aws, aws_clients):
    key = new_key("tgk", "live")
    item = an_item(key=key)
    client = aws_clients.client("dynamodb")
    DynamoKeyItems(client, aws.keys_table).put(replace(item, state=KeyState.ROTATING_OUT, not_after=77))

    stored = client.get_item(TableName=aws.keys_table, Key={contract.KEYS_PARTITION_KEY: {"S": item.key_hash}})["Item"]

    assert set(stored) == {
        contract.KEYS_PARTITION_KEY,
        contract.KEYS_ATTR_KEY_ID,
        contract.KEYS_ATTR_HINT,
        contract.KEYS_ATTR_ACCOUNT,
        contract.KEYS_ATTR_ACCOUNT_ID,
        contract.KEYS_ATTR_STATE,
        contract.KEYS_ATTR_NOT_AFTER,
        contract.KEYS_ATTR_CREATED_AT,
        contract.KEYS_ATTR_ACCOUNT_STATUS,
        contract.KEYS_ATTR_PLAN,
        contract.KEYS_ATTR_USAGE_KEY,
        contract.KEYS_ATTR_ACCOUNT_VERSION,
    }
    assert stored[contract.KEYS_ATTR_STATE] == {"S": contract.KEY_STATE_ROTATING_OUT}
    assert stored[contract.KEYS_ATTR_NOT_AFTER] == {"N": "77"} and key not in str(stored)
