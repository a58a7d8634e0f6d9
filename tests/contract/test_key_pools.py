"""The KeyPools port: FakeKeyPools and DynamoKeyPools on moto answer alike; a shard, once recorded, keeps
its key whoever records another; on DynamoDB the pool item shares the accounts table and is never taken
for an account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.fake_ports import FakeKeyPools
from tollgate import contract
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_key_pools import DynamoKeyPools
from tollgate.domain.account import AccountStatus
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.keys import KeyPools

FIRST = IssuedKey("k1", "value-of-k1-0123456789012345678901")
SECOND = IssuedKey("k2", "value-of-k2-0123456789012345678901")


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def pools(request) -> Iterator[KeyPools]:
    if request.param == "fake":
        yield FakeKeyPools()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoKeyPools(request.getfixturevalue("aws_clients").client("dynamodb"), aws.accounts_table)


def test_a_plan_without_a_pool_has_none(pools):
    assert pools.get("never-pooled") is None


def test_the_first_key_recorded_for_a_shard_stays_and_every_recorder_learns_it(pools):
    assert pools.record_shard("contract-a", 7, FIRST) == FIRST
    assert pools.record_shard("contract-a", 7, SECOND) == FIRST  # a racing provisioner: it deletes its own
    assert pools.record_shard("contract-a", 12, SECOND) == SECOND

    pool = pools.get("contract-a")

    assert pool is not None and pool.shards == {7: FIRST, 12: SECOND}
    assert pool.key_ids == {"k1", "k2"}


def test_pools_of_two_plans_are_apart(pools):
    pools.record_shard("contract-b", 7, SECOND)

    assert pools.get("contract-b").shards == {7: SECOND}
    assert pools.get("contract-a").shards[7] == FIRST


def test_on_dynamodb_the_pool_item_is_never_listed_nor_counted_as_an_account(aws, aws_clients):
    table = aws_clients.client("dynamodb"), aws.accounts_table
    accounts = DynamoAccounts(*table)
    before = accounts.count_by_status()

    DynamoKeyPools(*table).record_shard("listed", 0, FIRST)

    listed = [row.email for status in AccountStatus for row in accounts.list_by_status(status)]
    assert not any(email.startswith(contract.KEY_POOL_ITEM_PREFIX) for email in listed)
    assert accounts.count_by_status() == before
