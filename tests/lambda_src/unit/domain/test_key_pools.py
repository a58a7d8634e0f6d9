"""Pooled usage keys (issue 20): a pooled plan's P shard keys are made once, idempotently, by the
housekeeping's provisioner, and an account lands on a stable shard; on fakes."""

from __future__ import annotations

from collections import Counter

import pytest

from testkit.clock import START
from testkit.fake_ports import POOLED_PLANS
from testkit.world import World
from tollgate.domain.key_pools import (
    ORPHAN_GRACE_SECONDS,
    POOL_KEY_NAME_PREFIX,
    KeyPoolProvisioner,
    pool_key_name,
    shard_of,
)
from tollgate.domain.models import IssuedKey

NO_DEADLINE = float("inf")
FREE = POOLED_PLANS.get("free")


@pytest.fixture
def world() -> World:
    return World.create(POOLED_PLANS, start=START)


def pool_keys(world: World) -> dict[str, dict]:
    return {key_id: key for key_id, key in world.api_keys.keys.items() if key["name"].startswith(POOL_KEY_NAME_PREFIX)}


def test_an_account_always_lands_on_the_same_shard_and_shards_fill_evenly():
    ids = [f"acct_{number:06d}" for number in range(20_000)]
    counts = Counter(shard_of(account_id, 100) for account_id in ids)
    assert [shard_of(account_id, 100) for account_id in ids[:50]] == [
        shard_of(account_id, 100) for account_id in ids[:50]
    ]
    assert set(counts) == set(range(100))
    assert max(counts.values()) < 1.3 * 200 and min(counts.values()) > 0.7 * 200


def test_provisioning_makes_each_shard_key_once_in_its_usage_plan_and_records_it(world):
    run = world.pool_provisioner.provision(NO_DEADLINE)

    made = pool_keys(world)
    assert run.recorded == FREE.pool_size and run.missing == 0
    assert sorted(key["name"] for key in made.values()) == [pool_key_name("free", n) for n in range(FREE.pool_size)]
    assert all(world.api_keys.plan[key_id] == FREE.usage_plan_id for key_id in made)
    pool = world.ports.key_pools.get("free")
    assert pool is not None and pool.key_ids == set(made)
    assert world.ports.key_pools.get("standard") is None  # a plan with keys of its own has no pool


def test_a_second_run_or_a_redeploy_makes_no_second_key(world):
    world.pool_provisioner.provision(NO_DEADLINE)
    creates = world.api_keys.call_count("create_key")

    run = world.pool_provisioner.provision(NO_DEADLINE)

    assert world.api_keys.call_count("create_key") == creates and run.recorded == 0
    assert len(pool_keys(world)) == FREE.pool_size


def test_a_key_made_by_a_run_that_died_before_recording_it_is_adopted_not_made_again(world):
    orphan = world.api_keys.create_key(pool_key_name("free", 2), "made, then the run died")

    world.pool_provisioner.provision(NO_DEADLINE)

    assert world.ports.key_pools.get("free").shards[2] == orphan
    assert world.api_keys.plan[orphan.id] == FREE.usage_plan_id
    assert len(pool_keys(world)) == FREE.pool_size


def test_two_runs_racing_keep_the_first_key_recorded_and_the_loser_deletes_its_own(world):
    winner = world.api_keys.create_key("made by the other run", "")
    world.api_keys.attach_to_plan(winner.id, FREE.usage_plan_id)
    record = world.ports.key_pools.record_shard

    def other_run_records_first(plan_id: str, shard: int, key: IssuedKey) -> IssuedKey:
        if shard == 0:
            record(plan_id, 0, winner)
        return record(plan_id, shard, key)

    world.ports.key_pools.record_shard = other_run_records_first
    world.pool_provisioner.provision(NO_DEADLINE)

    assert world.ports.key_pools.get("free").shards[0] == winner
    assert len(pool_keys(world)) == FREE.pool_size - 1  # shard 0's own key: deleted, the winner is named otherwise


def test_pool_named_keys_no_record_names_are_deleted_after_the_grace_and_another_plans_are_left(world):
    world.pool_provisioner.provision(NO_DEADLINE)
    stray = world.api_keys.create_key(pool_key_name("free", 1), "a duplicate the pool never recorded")
    other_plan = world.api_keys.create_key(pool_key_name("free-tier", 1), "another plan's")

    world.pool_provisioner.provision(NO_DEADLINE)
    assert stray.id in world.api_keys.keys  # maybe a live run's, about to be recorded

    world.clock.advance(ORPHAN_GRACE_SECONDS + 1)
    run = world.pool_provisioner.provision(NO_DEADLINE)

    assert run.orphans_deleted == 1 and stray.id not in world.api_keys.keys
    assert other_plan.id in world.api_keys.keys


def test_creations_are_paced_and_stop_at_the_deadline_the_next_run_carries_on(world):
    provisioner = KeyPoolProvisioner(
        world.api_keys,
        world.ports.key_pools,
        POOLED_PLANS,
        clock=world.clock,
        sleep=world.clock.sleep,
        creations_per_second=1,
    )
    run = provisioner.provision(deadline=world.clock() + 1.5)

    assert (run.recorded, run.missing) == (2, FREE.pool_size - 2)
    assert provisioner.provision(NO_DEADLINE).recorded == FREE.pool_size - 2


def test_a_failing_api_gateway_is_reported_and_the_next_run_finishes(world):
    world.api_keys.fail("create_key", on_call=2)

    run = world.pool_provisioner.provision(NO_DEADLINE)

    assert run.problem and run.missing
    world.pool_provisioner.provision(NO_DEADLINE)
    assert len(world.ports.key_pools.get("free").shards) == FREE.pool_size


def test_the_housekeeping_makes_the_pools_and_the_orphan_search_never_takes_a_pool_key(world):
    run = world.housekeeping.run(NO_DEADLINE)

    assert run.pools.recorded == FREE.pool_size
    world.clock.advance(ORPHAN_GRACE_SECONDS + 1)
    assert world.registration.cleanup.orphaned_keys(int(world.clock())) == []
