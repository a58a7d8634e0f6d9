"""Plan changes across a pooled plan (issue 20): free (pooled) -> paid makes the account's own key once
(adopted by its name if a step failed after the create), moves it to the paid usage plan and bills the
calls made on it; paid -> free puts the account on its shard; its own key moves to the free usage plan
(an answer the authorizer cached for it works until it expires) and a change back takes it again. The
customer's key never changes. On fakes."""

from __future__ import annotations

import pytest

from testkit.clock import START
from testkit.fake_ports import POOLED_PLANS
from testkit.world import World
from tollgate.domain.account import Account
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.errors import DownstreamError
from tollgate.domain.key_pools import POOL_KEY_NAME_PREFIX
from tollgate.domain.models import Registrant
from tollgate.domain.usage_keys import own_key_name

NO_DEADLINE = float("inf")
RETURN_URL = "https://shop.example/account"
STANDARD, FREE = POOLED_PLANS.get("standard"), POOLED_PLANS.get("free")


@pytest.fixture
def world() -> World:
    world = World.create(POOLED_PLANS, start=START)
    world.pool_provisioner.provision(NO_DEADLINE)
    return world


def ada(world: World) -> Account:
    return world.accounts.get("ada@example.com")


def sign_up(world: World, plan_id: str) -> str:
    """Ada signs up on `plan_id`; her customer key."""
    return world.registration.register(Registrant("ada@example.com", "Ada", "Lovelace", plan_id), "fp").key.value


def change(world: World, plan_id: str) -> None:
    world.plan_changes.request(ada(world), plan_id, f"request-{plan_id}-{world.clock()}", RETURN_URL)
    world.clock.advance(60)


def own_keys(world: World) -> list[str]:
    return [key_id for key_id, key in world.api_keys.keys.items() if not key["name"].startswith(POOL_KEY_NAME_PREFIX)]


def test_free_to_paid_makes_one_own_key_in_the_paid_usage_plan_and_its_calls_are_billed(world):
    key = sign_up(world, "free")

    change(world, "standard")

    row = ada(world)
    (own,) = own_keys(world)
    assert (row.plan_id, row.api_key_id, row.pool_key_id) == ("standard", own, None)
    assert row.usage_key == world.api_keys.keys[own]["value"] and row.keys_in_sync
    assert world.api_keys.plan[own] == STANDARD.usage_plan_id and world.api_keys.name_of(own) == own_key_name(row)
    assert world.key_items.items[key_hash(key)].usage_key == row.usage_key  # the authorizer names the own key
    assert world.can_call(key)
    world.billable_calls(own, 4)
    assert world.meter.units_by_price() == {STANDARD.price_id: 4}


def test_a_key_made_by_a_change_that_failed_after_the_create_is_adopted_never_made_twice(world):
    sign_up(world, "free")
    world.api_keys.fail_next("attach_to_plan")  # the key is made, then moving it fails: the row is not in sync

    with pytest.raises(DownstreamError):
        change(world, "standard")
    assert not ada(world).keys_in_sync
    world.enforcer.enforce(ada(world))  # whoever comes next: the webhook, the reconciler

    (own,) = own_keys(world)
    assert (
        ada(world).api_key_id == own and ada(world).keys_in_sync and world.api_keys.plan[own] == STANDARD.usage_plan_id
    )


def test_paid_to_free_puts_the_account_on_its_shard_and_its_own_key_follows_the_plan(world):
    key = sign_up(world, "standard")
    own = ada(world).api_key_id

    change(world, "free")

    row = ada(world)
    assert (
        row.plan_id == "free" and row.api_key_id == own and row.pool_key_id in world.ports.key_pools.get("free").key_ids
    )
    assert world.api_keys.plan[own] == FREE.usage_plan_id  # a cached authorizer answer naming it still works
    assert world.key_items.items[key_hash(key)].usage_key == world.api_keys.keys[row.pool_key_id]["value"]
    assert world.can_call(key) and world.api_keys.can_call_api(row.pool_key_id)


def test_back_to_paid_takes_the_same_own_key_again(world):
    key = sign_up(world, "standard")
    own = ada(world).api_key_id
    change(world, "free")

    change(world, "standard")

    row = ada(world)
    assert own_keys(world) == [own] and (row.api_key_id, row.pool_key_id) == (own, None)
    assert world.api_keys.keys[own]["enabled"] and world.api_keys.plan[own] == STANDARD.usage_plan_id
    assert row.usage_key == world.api_keys.keys[own]["value"] and world.can_call(key)


def test_a_change_to_a_pooled_plan_whose_shard_is_not_made_yet_is_finished_once_it_is():
    world = World.create(POOLED_PLANS, start=START)
    key = sign_up(world, "standard")

    with pytest.raises(DownstreamError):
        change(world, "free")
    assert not ada(world).keys_in_sync and world.can_call(key)  # still on its own key meanwhile

    world.pool_provisioner.provision(NO_DEADLINE)
    world.enforcer.enforce(ada(world))

    assert ada(world).pool_key_id is not None and ada(world).keys_in_sync and world.can_call(key)
