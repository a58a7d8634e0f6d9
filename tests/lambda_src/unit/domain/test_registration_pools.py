"""Sign-up on a pooled plan writes DynamoDB (and Stripe, Moesif) only: no CreateApiKey, the key item names
its shard's key; a paid sign-up makes at most one key, waiting out CreateApiKey's throttling within a
bounded time; every existing guarantee (rollback, nothing left) holds. On fakes."""

from __future__ import annotations

import pytest

from testkit.clock import START
from testkit.fake_ports import POOLED_PLANS
from testkit.world import World
from tollgate.domain.account import AccountStatus
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.errors import DownstreamError, Throttled
from tollgate.domain.key_pools import PoolNotReady, shard_of
from tollgate.domain.models import Registrant
from tollgate.domain.usage_keys import KEY_CREATE_RETRY_SECONDS

NO_DEADLINE = float("inf")
FREE_ANN = Registrant("ann@example.com", "Ann", "Lee", "free")
PAID_BOB = Registrant("bob@example.com", "Bob", "Ray", "standard")


@pytest.fixture
def world() -> World:
    world = World.create(POOLED_PLANS, start=START)
    world.pool_provisioner.provision(NO_DEADLINE)
    world.clock.slept = 0  # (the provisioner's pacing)
    return world


def test_a_free_sign_up_makes_no_api_gateway_call_and_its_key_calls_through_its_shard(world):
    keys_before = dict(world.api_keys.keys)
    calls_before = len(world.api_keys.calls)

    registration = world.registration.register(FREE_ANN, "fp")

    assert len(world.api_keys.calls) == calls_before and world.api_keys.keys == keys_before
    row = world.accounts.rows[FREE_ANN.email]
    shard = world.ports.key_pools.get("free").shards[shard_of(registration.account_id, 4)]
    assert (row.api_key_id, row.pool_key_id, row.usage_key) == (None, shard.id, shard.value)
    assert world.key_items.items[key_hash(registration.key.value)].usage_key == shard.value
    assert row.status is AccountStatus.ACTIVE and world.can_call(registration.key.value)


def test_free_accounts_share_the_pool_and_use_no_more_gateway_keys_than_it(world):
    keys_before = len(world.api_keys.keys)
    registrations = [
        world.registration.register(Registrant(f"user{n}@example.com", "U", "N", "free"), f"fp{n}") for n in range(40)
    ]

    assert len(world.api_keys.keys) == keys_before == POOLED_PLANS.get("free").pool_size
    assert {world.accounts.rows[f"user{n}@example.com"].pool_key_id for n in range(40)} == set(
        world.ports.key_pools.get("free").key_ids
    )
    assert all(world.can_call(registration.key.value) for registration in registrations)


def test_a_pooled_sign_up_that_fails_leaves_the_shared_key_alone(world):
    world.analytics.fail("upsert_user")
    pool_before = {key_id: dict(key) for key_id, key in world.api_keys.keys.items()}
    plans_before = dict(world.api_keys.plan)

    with pytest.raises(DownstreamError):
        world.registration.register(FREE_ANN, "fp")

    assert world.api_keys.keys == pool_before and world.api_keys.plan == plans_before
    assert world.accounts.rows == {} and world.key_items.items == {} and world.billing.customers == {}


def test_a_free_sign_up_before_its_shard_exists_is_refused_retryably_and_leaves_nothing():
    world = World.create(POOLED_PLANS, start=START)

    with pytest.raises(PoolNotReady) as refused:
        world.registration.register(FREE_ANN, "fp")

    assert refused.value.retryable and "housekeeping" in str(refused.value)
    assert world.accounts.rows == {} and world.billing.customers == {} and world.api_keys.keys == {}


def test_a_pooled_customer_whose_create_had_an_unknown_outcome_is_found_by_its_account_id_never_the_shared_key(world):
    """Stripe replays a saved 500 (https://docs.stripe.com/idempotency): the rollback searches the customer
    by the reference its metadata names, which must be this sign-up's alone: its account id."""
    world.billing.saves_errors = True
    world.billing.fail("create_customer", answer_lost=True)

    with pytest.raises(DownstreamError):
        world.registration.register(FREE_ANN, "fp")

    (searched,) = [args for method, args in world.billing.calls if method == "find_customers_for_key"]
    assert searched[0].startswith("acct_") and world.billing.customers == {}


def test_a_paid_sign_up_waits_out_create_api_key_throttling_and_makes_one_key(world):
    world.api_keys.fail_next(
        "create_key", times=3, error=Throttled("API Gateway", "create API key failed (TooManyRequests)")
    )
    pool_keys = len(world.api_keys.keys)

    registration = world.registration.register(PAID_BOB, "fp")

    row = world.accounts.rows[PAID_BOB.email]
    assert len(world.api_keys.keys) == pool_keys + 1 and row.api_key_id in world.api_keys.keys
    assert row.pool_key_id is None and world.can_call(registration.key.value)
    assert 0 < world.clock.slept <= KEY_CREATE_RETRY_SECONDS


def test_a_paid_sign_up_throttled_past_its_budget_is_refused_retryably_with_nothing_left(world):
    world.api_keys.fail_next(
        "create_key", times=None, error=Throttled("API Gateway", "create API key failed (TooManyRequests)")
    )
    pool_keys = dict(world.api_keys.keys)

    with pytest.raises(Throttled) as refused:
        world.registration.register(PAID_BOB, "fp")

    assert refused.value.retryable and world.clock.slept <= KEY_CREATE_RETRY_SECONDS
    assert world.api_keys.call_count("create_key") > 4 + 3  # (4: the pool)
    assert world.api_keys.keys == pool_keys and world.accounts.rows == {} and world.billing.customers == {}


def test_a_timeout_is_not_retried_by_the_backoff(world):
    """A timed-out create may have made a key (its orphan is found by name): only throttling is waited out."""
    world.api_keys.fail_next("create_key")

    with pytest.raises(DownstreamError):
        world.registration.register(PAID_BOB, "fp")

    assert world.api_keys.call_count("create_key") == 1 + 4 and world.clock.slept == 0  # (4: the pool)
