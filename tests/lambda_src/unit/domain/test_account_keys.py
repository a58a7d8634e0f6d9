"""Key rotation with overlap, revocation and retirement on fakes (issue 20): the customer's keys are
items of the keys table, the account's quota belongs to its one API Gateway usage key. The old key
keeps working for the grace period, then the scheduled job retires it; "Revoke now" ends it at once;
none of it calls API Gateway, so no number of rotations gives more calls than the plan allows; a new
key follows the account's status; nothing is left half-made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from testkit.fake_ports import TEST_PLANS
from testkit.world import GRACE_SECONDS, World
from tollgate import contract
from tollgate.domain.account import AccountStatus, KeyState
from tollgate.domain.account_keys import MAX_EXISTING_KEYS
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError, KeyChangeRefused

ADA = "ada@example.com"


@pytest.fixture
def fakes() -> World:
    return World.create()


def item_of(fakes: World, key: str):
    return fakes.key_items.get(key_hash(key))


def test_rotation_gives_a_working_new_key_and_the_old_one_works_until_its_grace_ends(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    old = fakes.issued[ADA]
    gateway_calls = len(fakes.api_keys.calls)

    new = fakes.account_keys.rotate(account)

    assert new.value.startswith("tgk_test_") and fakes.can_call(new.value) and fakes.can_call(old)
    rotated = fakes.accounts.get(ADA)
    assert rotated.api_key_id == account.api_key_id  # the usage key stays: quota and throttle are the account's
    assert [(r.id, r.state, r.until) for r in rotated.key_records] == [
        (item_of(fakes, old).key_id, KeyState.ROTATING_OUT, int(fakes.clock()) + GRACE_SECONDS),
        (new.id, KeyState.ACTIVE, None)]
    assert item_of(fakes, old).not_after == int(fakes.clock()) + GRACE_SECONDS
    assert item_of(fakes, new.value).usage_key == item_of(fakes, old).usage_key

    fakes.clock.advance(GRACE_SECONDS - 1)
    assert fakes.account_keys.retire_due().retired == 0 and fakes.can_call(old)
    fakes.clock.advance(1)
    assert not fakes.can_call(old)  # the authorizer reads the grace end itself
    run = fakes.account_keys.retire_due()
    assert (run.retired, run.failed) == (1, 0) and fakes.can_call(new.value)
    retired = item_of(fakes, old)
    assert retired.state is KeyState.RETIRED
    assert retired.expires_at == int(fakes.clock()) + contract.ENDED_KEY_RETENTION_SECONDS
    assert fakes.account_keys.retire_due().retired == 0  # nothing left to do
    assert len(fakes.api_keys.calls) == gateway_calls  # rotation and retirement never call API Gateway


def test_revoke_now_ends_the_rotated_out_key_at_once(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    old = fakes.issued[ADA]
    old_id = item_of(fakes, old).key_id
    fakes.account_keys.rotate(account)
    gateway_calls = len(fakes.api_keys.calls)

    revoked = fakes.account_keys.revoke(fakes.accounts.get(ADA), old_id)

    assert not fakes.can_call(old) and item_of(fakes, old).state is KeyState.REVOKED
    assert revoked.key(old_id).state is KeyState.REVOKED and revoked.key(old_id).until == int(fakes.clock())
    assert fakes.access.retirements == {}  # nothing left for the job
    assert fakes.account_keys.revoke(revoked, old_id) == revoked  # twice changes nothing
    assert len(fakes.api_keys.calls) == gateway_calls


def test_a_revocation_whose_item_write_failed_is_finished_by_revoking_again(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    old = fakes.issued[ADA]
    fakes.account_keys.rotate(account)
    fakes.key_items.fail_next("follow")

    with pytest.raises(DownstreamError):
        fakes.account_keys.revoke(fakes.accounts.get(ADA), item_of(fakes, old).key_id)
    assert fakes.can_call(old)  # the row says revoked, the item not yet

    fakes.account_keys.revoke(fakes.accounts.get(ADA), item_of(fakes, old).key_id)
    assert not fakes.can_call(old)


def test_the_current_key_and_other_accounts_keys_cannot_be_revoked(fakes: World) -> None:
    ada, grace = fakes.signed_up(ADA), fakes.signed_up("grace@example.com")
    with pytest.raises(KeyChangeRefused, match="current key"):
        fakes.account_keys.revoke(ada, ada.current_key.id)
    with pytest.raises(KeyChangeRefused, match="no key with this ID"):
        fakes.account_keys.revoke(ada, grace.current_key.id)
    assert fakes.can_call(fakes.issued["grace@example.com"])


def spend(fakes: World, key: str) -> int:
    """Call with `key` until the stage refuses: what it would count (the item's usage key's quota)."""
    usage_key_id = fakes.accounts.get(ADA).api_key_id
    today = datetime.fromtimestamp(fakes.clock(), UTC).date()
    plan = TEST_PLANS.get(fakes.accounts.get(ADA).plan_id)
    made = 0
    while fakes.can_call(key) and fakes.plan_usage.quota_left(usage_key_id, plan, today)[0] > 0:
        fakes.plan_usage.used[usage_key_id, today] = fakes.plan_usage.used.get((usage_key_id, today), 0) + 1
        made += 1
    return made


def test_five_rotate_spend_revoke_cycles_never_give_more_than_the_plan_allows(fakes: World) -> None:
    account = fakes.signed_up(ADA, plan_id="free")
    quota = TEST_PLANS.get("free").quota_limit
    key, made = fakes.issued[ADA], 0
    for _ in range(5):
        made += spend(fakes, key)  # the current key, to the end of the quota
        new = fakes.account_keys.rotate(fakes.accounts.get(ADA))
        made += spend(fakes, key)  # the rotated-out key in its grace: nothing left
        fakes.account_keys.revoke(fakes.accounts.get(ADA), item_of(fakes, key).key_id)
        key = new.value
    assert made == quota and fakes.accounts.get(ADA).api_key_id == account.api_key_id


def test_a_suspended_account_gets_a_key_that_cannot_call_and_reactivation_lets_both_call(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    subscription = account.subscription_id
    fakes.billing.subscriptions[subscription]["status"] = "past_due"
    fakes.lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()),
                                        subscription_id=subscription))
    new = fakes.account_keys.rotate(fakes.accounts.get(ADA))
    assert not fakes.can_call(new.value) and not fakes.can_call(fakes.issued[ADA])
    assert item_of(fakes, new.value).account_status == "suspended"

    fakes.billing.subscriptions[subscription]["status"] = "active"
    fakes.lifecycle.handle(BillingEvent("evt_2", "invoice.paid", int(fakes.clock()) + 1, subscription_id=subscription))
    assert fakes.can_call(new.value) and fakes.can_call(fakes.issued[ADA])


def test_a_suspended_account_is_refused_even_when_api_gateway_fails(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    fakes.billing.subscriptions[account.subscription_id]["status"] = "past_due"
    fakes.api_keys.fail("set_enabled", times=None)

    with pytest.raises(DownstreamError):  # the webhook answers 5xx: Stripe delivers it again
        fakes.lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()),
                                            subscription_id=account.subscription_id))

    assert fakes.api_keys.can_call_api(account.api_key_id)  # the second line did not hold...
    assert not fakes.can_call(fakes.issued[ADA])  # ...the authorizer's item did
    assert item_of(fakes, fakes.issued[ADA]).account_status == "suspended"


def test_a_lost_item_write_is_repaired_by_the_reconciler(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    fakes.billing.subscriptions[account.subscription_id]["status"] = "past_due"
    fakes.key_items.fail_next("follow")
    with pytest.raises(DownstreamError):
        fakes.lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()),
                                            subscription_id=account.subscription_id))
    stale = item_of(fakes, fakes.issued[ADA])
    assert fakes.accounts.get(ADA).status is AccountStatus.SUSPENDED and stale.account_status == "active"
    assert stale.account_version < fakes.accounts.get(ADA).version

    fakes.reconciler.run("run-1", fakes.clock() + 60)

    assert item_of(fakes, fakes.issued[ADA]).account_status == "suspended" and not fakes.can_call(fakes.issued[ADA])


def test_a_status_change_meanwhile_undoes_the_rotation(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    # written after our read, as the store writes: a newer version
    fakes.accounts.rows[ADA] = replace(account.with_status(AccountStatus.SUSPENDED, 1, "test"),
                                       version=account.version + 1)
    items = dict(fakes.key_items.items)
    with pytest.raises(KeyChangeRefused, match="changed"):
        fakes.account_keys.rotate(account)
    assert fakes.key_items.items == items


def test_a_failed_row_write_removes_the_new_key(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    items = dict(fakes.key_items.items)
    fakes.accounts.fail_next("update")
    with pytest.raises(DownstreamError):
        fakes.account_keys.rotate(account)
    assert fakes.key_items.items == items and fakes.accounts.get(ADA).key_records == account.key_records


def test_a_rotation_meanwhile_makes_the_webhook_read_again_and_cut_off_both_keys(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    billing, accounts = fakes.billing, fakes.accounts
    billing.subscriptions[account.subscription_id]["status"] = "past_due"
    rotated = []
    real_get = billing.subscription

    def rotate_between_read_and_write(subscription_id: str):
        if not rotated:
            rotated.append(fakes.account_keys.rotate(accounts.get(ADA)))
        return real_get(subscription_id)

    billing.subscription = rotate_between_read_and_write
    fakes.lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()),
                                        subscription_id=account.subscription_id))
    assert not fakes.can_call(rotated[0].value) and not fakes.can_call(fakes.issued[ADA])


def test_an_account_holds_at_most_a_few_keys(fakes: World) -> None:
    fakes.signed_up(ADA)
    for _ in range(MAX_EXISTING_KEYS - 1):
        fakes.account_keys.rotate(fakes.accounts.get(ADA))
    with pytest.raises(KeyChangeRefused, match="revoke"):
        fakes.account_keys.rotate(fakes.accounts.get(ADA))
    assert len(fakes.key_items.items) == MAX_EXISTING_KEYS and len(fakes.api_keys.keys) == 1


def test_a_canceled_account_cannot_rotate(fakes: World) -> None:
    account = fakes.signed_up(ADA).with_status(AccountStatus.CANCELED, 1, "test")
    with pytest.raises(KeyChangeRefused, match="ended"):
        fakes.account_keys.rotate(account)


def test_the_job_drops_reminders_of_keys_that_never_rotated_out_and_retries_failures(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    fakes.accounts.fail_next("update")
    with pytest.raises(DownstreamError):
        fakes.account_keys.rotate(account)  # its reminder for the still-current key stays behind
    fakes.account_keys.rotate(fakes.accounts.get(ADA))
    fakes.clock.advance(GRACE_SECONDS)
    fakes.accounts.fail_next("update")
    run = fakes.account_keys.retire_due()
    assert (run.failed, run.skipped) == (1, 0)  # the row write failed; the leftover reminder is for the same key
    assert fakes.account_keys.retire_due().retired == 1
    assert item_of(fakes, fakes.issued[ADA]).state is KeyState.RETIRED
