"""Key rotation with overlap, revocation and retirement on fakes (issue 20): the customer's keys are
items of the keys table, the account's quota belongs to its one API Gateway usage key. The old key
keeps working for the grace period, then the scheduled job retires it; "Revoke now" ends it at once;
none of it calls API Gateway, so no number of rotations gives more calls than the plan allows; a new
key follows the account's status; nothing is left half-made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from testkit.account_settings import GRACE_SECONDS
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate import contract
from tollgate.domain.account import AccountStatus
from tollgate.domain.account_keys import MAX_EXISTING_KEYS
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError, KeyChangeRefused
from tollgate.domain.key_ring import KeyState
from tollgate.domain.models import IssuedKey

ADA = "ada@example.com"


def item_of(world: World, key: str):
    return world.key_items.get(key_hash(key))


def test_rotation_gives_a_working_new_key_and_the_old_one_works_until_its_grace_ends(world: World) -> None:
    account = world.signed_up(ADA)
    old = world.issued[ADA]
    gateway_calls = len(world.api_keys.calls)

    new = world.account_keys.rotate(account)

    assert new.value.startswith("tgk_test_") and world.can_call(new.value) and world.can_call(old)
    rotated = world.accounts.get(ADA)
    assert rotated.api_key_id == account.api_key_id  # the usage key stays: quota and throttle are the account's
    assert [(r.id, r.state, r.until) for r in rotated.key_records] == [
        (item_of(world, old).key_id, KeyState.ROTATING_OUT, int(world.clock()) + GRACE_SECONDS),
        (new.id, KeyState.ACTIVE, None),
    ]
    assert item_of(world, old).not_after == int(world.clock()) + GRACE_SECONDS
    assert item_of(world, new.value).usage_key == item_of(world, old).usage_key

    world.clock.advance(GRACE_SECONDS - 1)
    assert world.account_keys.retire_due().retired == 0 and world.can_call(old)
    world.clock.advance(1)
    assert not world.can_call(old)  # the authorizer reads the grace end itself
    run = world.account_keys.retire_due()
    assert (run.retired, run.failed) == (1, 0) and world.can_call(new.value)
    retired = item_of(world, old)
    assert retired.state is KeyState.RETIRED
    assert retired.expires_at == int(world.clock()) + contract.ENDED_KEY_RETENTION_SECONDS
    assert world.account_keys.retire_due().retired == 0  # nothing left to do
    assert len(world.api_keys.calls) == gateway_calls  # rotation and retirement never call API Gateway


def test_revoke_now_ends_the_rotated_out_key_at_once(world: World) -> None:
    account = world.signed_up(ADA)
    old = world.issued[ADA]
    old_id = item_of(world, old).key_id
    world.account_keys.rotate(account)
    gateway_calls = len(world.api_keys.calls)

    revoked = world.account_keys.revoke(world.accounts.get(ADA), old_id)

    assert not world.can_call(old) and item_of(world, old).state is KeyState.REVOKED
    assert revoked.key(old_id).state is KeyState.REVOKED and revoked.key(old_id).until == int(world.clock())
    assert world.access.retirements == {}  # nothing left for the job
    assert world.account_keys.revoke(revoked, old_id) == revoked  # twice changes nothing
    assert len(world.api_keys.calls) == gateway_calls


def test_a_revocation_whose_item_write_failed_is_finished_by_revoking_again(world: World) -> None:
    account = world.signed_up(ADA)
    old = world.issued[ADA]
    world.account_keys.rotate(account)
    world.key_items.fail_next("follow")

    with pytest.raises(DownstreamError):
        world.account_keys.revoke(world.accounts.get(ADA), item_of(world, old).key_id)
    assert world.can_call(old)  # the row says revoked, the item not yet

    world.account_keys.revoke(world.accounts.get(ADA), item_of(world, old).key_id)
    assert not world.can_call(old)


def test_the_current_key_and_other_accounts_keys_cannot_be_revoked(world: World) -> None:
    ada, grace = world.signed_up(ADA), world.signed_up("grace@example.com")
    with pytest.raises(KeyChangeRefused, match="current key"):
        world.account_keys.revoke(ada, ada.current_key.id)
    with pytest.raises(KeyChangeRefused, match="no key with this ID"):
        world.account_keys.revoke(ada, grace.current_key.id)
    assert world.can_call(world.issued["grace@example.com"])


def spend(world: World, key: str) -> int:
    """Call with `key` until the stage refuses: what it would count (the item's usage key's quota)."""
    usage_key_id = world.accounts.get(ADA).api_key_id
    today = datetime.fromtimestamp(world.clock(), UTC).date()
    plan = TEST_PLANS.get(world.accounts.get(ADA).plan_id)
    made = 0
    while world.can_call(key) and world.plan_usage.quota_left(usage_key_id, plan, today)[0] > 0:
        world.plan_usage.used[usage_key_id, today] = world.plan_usage.used.get((usage_key_id, today), 0) + 1
        made += 1
    return made


def test_five_rotate_spend_revoke_cycles_never_give_more_than_the_plan_allows(world: World) -> None:
    account = world.signed_up(ADA, plan_id="free")
    quota = TEST_PLANS.get("free").quota_limit
    key, made = world.issued[ADA], 0
    for _ in range(5):
        made += spend(world, key)  # the current key, to the end of the quota
        new = world.account_keys.rotate(world.accounts.get(ADA))
        made += spend(world, key)  # the rotated-out key in its grace: nothing left
        world.account_keys.revoke(world.accounts.get(ADA), item_of(world, key).key_id)
        key = new.value
    assert made == quota and world.accounts.get(ADA).api_key_id == account.api_key_id


def test_a_suspended_account_gets_a_key_that_cannot_call_and_reactivation_lets_both_call(world: World) -> None:
    account = world.signed_up(ADA)
    subscription = account.subscription_id
    world.billing.subscriptions[subscription]["status"] = "past_due"
    world.lifecycle.handle(
        BillingEvent("evt_1", "customer.subscription.updated", int(world.clock()), subscription_id=subscription)
    )
    new = world.account_keys.rotate(world.accounts.get(ADA))
    assert not world.can_call(new.value) and not world.can_call(world.issued[ADA])
    assert item_of(world, new.value).account_status == "suspended"

    world.billing.subscriptions[subscription]["status"] = "active"
    world.lifecycle.handle(BillingEvent("evt_2", "invoice.paid", int(world.clock()) + 1, subscription_id=subscription))
    assert world.can_call(new.value) and world.can_call(world.issued[ADA])


def test_a_suspended_account_is_refused_even_when_api_gateway_fails(world: World) -> None:
    account = world.signed_up(ADA)
    world.billing.subscriptions[account.subscription_id]["status"] = "past_due"
    world.api_keys.fail("set_enabled", times=None)

    with pytest.raises(DownstreamError):  # the webhook answers 5xx: Stripe delivers it again
        world.lifecycle.handle(
            BillingEvent(
                "evt_1", "customer.subscription.updated", int(world.clock()), subscription_id=account.subscription_id
            )
        )

    assert world.api_keys.can_call_api(account.api_key_id)  # the second line did not hold...
    assert not world.can_call(world.issued[ADA])  # ...the authorizer's item did
    assert item_of(world, world.issued[ADA]).account_status == "suspended"


def test_a_lost_item_write_is_repaired_by_the_reconciler(world: World) -> None:
    account = world.signed_up(ADA)
    world.billing.subscriptions[account.subscription_id]["status"] = "past_due"
    world.key_items.fail_next("follow")
    with pytest.raises(DownstreamError):
        world.lifecycle.handle(
            BillingEvent(
                "evt_1", "customer.subscription.updated", int(world.clock()), subscription_id=account.subscription_id
            )
        )
    stale = item_of(world, world.issued[ADA])
    assert world.accounts.get(ADA).status is AccountStatus.SUSPENDED and stale.account_status == "active"
    assert stale.account_version < world.accounts.get(ADA).version

    world.reconciler.run("run-1", world.clock() + 60)

    assert item_of(world, world.issued[ADA]).account_status == "suspended" and not world.can_call(world.issued[ADA])


def test_a_status_change_meanwhile_undoes_the_rotation(world: World) -> None:
    account = world.signed_up(ADA)
    # written after our read, as the store writes: a newer version
    world.accounts.rows[ADA] = replace(
        account.with_status(AccountStatus.SUSPENDED, 1, "test"), version=account.version + 1
    )
    items = dict(world.key_items.items)
    with pytest.raises(KeyChangeRefused, match="changed"):
        world.account_keys.rotate(account)
    assert world.key_items.items == items


def test_a_failed_row_write_removes_the_new_key(world: World) -> None:
    account = world.signed_up(ADA)
    items = dict(world.key_items.items)
    world.accounts.fail_next("update")
    with pytest.raises(DownstreamError):
        world.account_keys.rotate(account)
    assert world.key_items.items == items and world.accounts.get(ADA).key_records == account.key_records


def test_a_rotation_meanwhile_makes_the_webhook_read_again_and_cut_off_both_keys(world: World) -> None:
    account = world.signed_up(ADA)
    billing, accounts = world.billing, world.accounts
    billing.subscriptions[account.subscription_id]["status"] = "past_due"
    rotated: list[IssuedKey] = []
    real_get = billing.subscription

    def rotate_between_read_and_write(subscription_id: str):
        if not rotated:
            rotated.append(world.account_keys.rotate(accounts.get(ADA)))
        return real_get(subscription_id)

    billing.subscription = rotate_between_read_and_write  # type: ignore[method-assign]  # the fake, for this test
    world.lifecycle.handle(
        BillingEvent(
            "evt_1", "customer.subscription.updated", int(world.clock()), subscription_id=account.subscription_id
        )
    )
    assert not world.can_call(rotated[0].value) and not world.can_call(world.issued[ADA])


def test_an_account_holds_at_most_a_few_keys(world: World) -> None:
    world.signed_up(ADA)
    for _ in range(MAX_EXISTING_KEYS - 1):
        world.account_keys.rotate(world.accounts.get(ADA))
    with pytest.raises(KeyChangeRefused, match="revoke"):
        world.account_keys.rotate(world.accounts.get(ADA))
    assert len(world.key_items.items) == MAX_EXISTING_KEYS and len(world.api_keys.keys) == 1


def test_a_canceled_account_cannot_rotate(world: World) -> None:
    account = world.signed_up(ADA).with_status(AccountStatus.CANCELED, 1, "test")
    with pytest.raises(KeyChangeRefused, match="ended"):
        world.account_keys.rotate(account)


def test_the_job_drops_reminders_of_keys_that_never_rotated_out_and_retries_failures(world: World) -> None:
    account = world.signed_up(ADA)
    world.accounts.fail_next("update")
    with pytest.raises(DownstreamError):
        world.account_keys.rotate(account)  # its reminder for the still-current key stays behind
    world.account_keys.rotate(world.accounts.get(ADA))
    world.clock.advance(GRACE_SECONDS)
    world.accounts.fail_next("update")
    run = world.account_keys.retire_due()
    assert (run.failed, run.skipped) == (1, 0)  # the row write failed; the leftover reminder is for the same key
    assert world.account_keys.retire_due().retired == 1
    assert item_of(world, world.issued[ADA]).state is KeyState.RETIRED
