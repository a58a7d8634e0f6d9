"""Key rotation with overlap, revocation and retirement on fakes: the old key keeps working for the
grace period, then the scheduled job ends it; "Revoke now" ends it at once; both keys bill the same
customer and draw on the quota the account has left; the new key follows the account's status;
nothing is left half-made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from testkit.fake_metering import MeteringOnFakes, call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.world import GRACE_SECONDS, World
from tollgate import contract
from tollgate.domain.account import AccountStatus, KeyState
from tollgate.domain.account_keys import MAX_EXISTING_KEYS
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError, KeyChangeRefused

ADA = "ada@example.com"


@pytest.fixture
def fakes() -> World:
    return World.create()


def test_rotation_gives_a_working_new_key_and_the_old_one_works_until_its_grace_ends(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    old = account.api_key_id
    new = fakes.account_keys.rotate(account)
    keys = fakes.ports.api_keys
    assert keys.can_call_api(new.id) and keys.can_call_api(old)
    rotated = fakes.ports.accounts.get(ADA)
    assert rotated.api_key_id == new.id
    assert [(r.id, r.state, r.until) for r in rotated.key_records] == [
        (old, KeyState.ROTATING_OUT, int(fakes.clock()) + GRACE_SECONDS), (new.id, KeyState.ACTIVE, None)]
    assert fakes.ports.analytics.users[new.id]["company_id"] == account.subscription_id

    fakes.clock.advance(GRACE_SECONDS - 1)
    assert fakes.account_keys.retire_due().retired == 0 and keys.can_call_api(old)
    fakes.clock.advance(1)
    run = fakes.account_keys.retire_due()
    assert (run.retired, run.failed) == (1, 0)
    assert old not in keys.keys and keys.can_call_api(new.id)
    assert fakes.ports.accounts.get(ADA).key(old).state is KeyState.DELETED
    assert fakes.account_keys.retire_due().retired == 0  # nothing left to do


def test_revoke_now_ends_the_rotated_out_key_at_once(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    old = account.api_key_id
    fakes.account_keys.rotate(account)
    revoked = fakes.account_keys.revoke(fakes.ports.accounts.get(ADA), old)
    assert old not in fakes.ports.api_keys.keys
    assert revoked.key(old).state is KeyState.REVOKED and revoked.key(old).until == int(fakes.clock())
    assert fakes.access.retirements == {}  # nothing left for the job
    assert fakes.account_keys.revoke(revoked, old) == revoked  # twice changes nothing


def test_the_current_key_and_other_accounts_keys_cannot_be_revoked(fakes: World) -> None:
    ada, grace = fakes.signed_up(ADA), fakes.signed_up("grace@example.com")
    with pytest.raises(KeyChangeRefused, match="current key"):
        fakes.account_keys.revoke(ada, ada.api_key_id)
    with pytest.raises(KeyChangeRefused, match="no key with this ID"):
        fakes.account_keys.revoke(ada, grace.api_key_id)
    assert fakes.ports.api_keys.can_call_api(grace.api_key_id)


def test_both_keys_bill_the_same_customer(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    new = fakes.account_keys.rotate(account)
    metering = MeteringOnFakes.create()  # the usage reporter's SQS handler, on the same account rows
    metering.accounts.rows, metering.accounts.key_pointers = fakes.ports.accounts.rows, fakes.ports.accounts.key_pointers
    source = metering.ledger.put(ledger_bytes([call_record(account.api_key_id)] * 3 + [call_record(new.id)] * 4))
    assert metering.deliver(source) == {"batchItemFailures": []}
    summary = metering.reports.summary(source)
    assert (summary.customers, summary.unknown_keys) == (1, {})
    assert metering.meter.units(account.customer_id) == 7


def today(fakes: World):
    return datetime.fromtimestamp(fakes.clock(), UTC).date()


def quota_left(fakes: World, key_id: str) -> int:
    return fakes.plan_usage.quota_left(key_id, TEST_PLANS.default, today(fakes))[0]


def test_the_new_key_starts_with_the_quota_the_account_has_left(fakes: World) -> None:
    usage = fakes.plan_usage
    account = fakes.signed_up(ADA)
    usage.used[account.api_key_id, today(fakes)] = 7
    new = fakes.account_keys.rotate(account)
    assert quota_left(fakes, new.id) == TEST_PLANS.default.quota_limit - 7

    usage.used[new.id, today(fakes)] = 2  # the new key's own calls come off what it carried
    fakes.account_keys.revoke(fakes.ports.accounts.get(ADA), account.api_key_id)
    newest = fakes.account_keys.rotate(fakes.ports.accounts.get(ADA))  # rotate and revoke again: no fresh quota
    assert quota_left(fakes, newest.id) == TEST_PLANS.default.quota_limit - 9
    assert set(usage.plans_asked) == {TEST_PLANS.default.usage_plan_id}  # the account's plan, in every call


def test_a_key_that_used_up_the_quota_hands_on_an_empty_one(fakes: World) -> None:
    usage = fakes.plan_usage
    account = fakes.signed_up(ADA)
    usage.used[account.api_key_id, today(fakes)] = TEST_PLANS.default.quota_limit
    new = fakes.account_keys.rotate(account)
    assert quota_left(fakes, new.id) == 0


@pytest.mark.parametrize("failing, answer_lost", [("quota_left", False), ("set_quota_left", False),
                                                  ("set_quota_left", True)])
def test_a_failed_carry_over_fails_the_rotation_and_deletes_the_new_key(fakes: World, failing: str,
                                                                         answer_lost: bool) -> None:
    account = fakes.signed_up(ADA)
    fakes.plan_usage.fail(failing, answer_lost=answer_lost)
    with pytest.raises(DownstreamError):
        fakes.account_keys.rotate(account)
    assert list(fakes.ports.api_keys.keys) == [account.api_key_id]
    assert fakes.ports.api_keys.can_call_api(account.api_key_id)
    assert fakes.ports.accounts.get(ADA).key_records == account.key_records
    assert fakes.access.retirements == {}  # the current key was never set to retire

    new = fakes.account_keys.rotate(fakes.ports.accounts.get(ADA))  # trying again works
    assert fakes.ports.api_keys.can_call_api(new.id)


def test_a_suspended_account_gets_a_disabled_key_and_reactivation_enables_both(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    subscription = account.subscription_id
    fakes.ports.billing.subscriptions[subscription]["status"] = "past_due"
    lifecycle = fakes.lifecycle
    lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()), subscription_id=subscription))
    suspended = fakes.ports.accounts.get(ADA)
    fakes.plan_usage.used[suspended.api_key_id, today(fakes)] = 5
    new = fakes.account_keys.rotate(suspended)
    keys = fakes.ports.api_keys
    assert not keys.can_call_api(new.id) and not keys.can_call_api(suspended.api_key_id)
    assert quota_left(fakes, new.id) == TEST_PLANS.default.quota_limit - 5

    fakes.ports.billing.subscriptions[subscription]["status"] = "active"
    lifecycle.handle(BillingEvent("evt_2", "invoice.paid", int(fakes.clock()) + 1, subscription_id=subscription))
    assert keys.can_call_api(new.id) and keys.can_call_api(suspended.api_key_id)
    assert fakes.ports.metrics.total(contract.METRIC_KEYS_ENABLED) == 2  # each key the account holds counts


def test_a_status_change_meanwhile_undoes_the_rotation(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    # written after our read, as the store writes: a newer version
    fakes.ports.accounts.rows[ADA] = replace(account.with_status(AccountStatus.SUSPENDED, 1, "test"),
                                             version=account.version + 1)
    with pytest.raises(KeyChangeRefused, match="changed"):
        fakes.account_keys.rotate(account)
    assert list(fakes.ports.api_keys.keys) == [account.api_key_id]


def test_a_failure_half_way_deletes_the_new_key(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    fakes.ports.api_keys.fail_next("attach_to_plan")
    with pytest.raises(DownstreamError):
        fakes.account_keys.rotate(account)
    assert list(fakes.ports.api_keys.keys) == [account.api_key_id]
    assert fakes.ports.accounts.get(ADA).key_records == account.key_records


def test_a_rotation_meanwhile_makes_the_webhook_read_again_and_cut_off_both_keys(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    billing, accounts = fakes.ports.billing, fakes.ports.accounts
    billing.subscriptions[account.subscription_id]["status"] = "past_due"
    lifecycle = fakes.lifecycle
    rotated = []
    real_get = billing.subscription

    def rotate_between_read_and_write(subscription_id: str):
        if not rotated:
            rotated.append(fakes.account_keys.rotate(accounts.get(ADA)))
        return real_get(subscription_id)

    billing.subscription = rotate_between_read_and_write
    lifecycle.handle(BillingEvent("evt_1", "customer.subscription.updated", int(fakes.clock()),
                                  subscription_id=account.subscription_id))
    assert not fakes.ports.api_keys.can_call_api(rotated[0].id)
    assert not fakes.ports.api_keys.can_call_api(account.api_key_id)


def test_an_account_holds_at_most_a_few_keys(fakes: World) -> None:
    fakes.signed_up(ADA)
    for _ in range(MAX_EXISTING_KEYS - 1):
        fakes.account_keys.rotate(fakes.ports.accounts.get(ADA))
    with pytest.raises(KeyChangeRefused, match="revoke"):
        fakes.account_keys.rotate(fakes.ports.accounts.get(ADA))
    assert len(fakes.ports.api_keys.keys) == MAX_EXISTING_KEYS


def test_a_canceled_account_cannot_rotate(fakes: World) -> None:
    account = fakes.signed_up(ADA).with_status(AccountStatus.CANCELED, 1, "test")
    with pytest.raises(KeyChangeRefused, match="ended"):
        fakes.account_keys.rotate(account)


def test_the_job_drops_reminders_of_keys_that_never_rotated_out_and_retries_failures(fakes: World) -> None:
    account = fakes.signed_up(ADA)
    fakes.ports.api_keys.fail_next("attach_to_plan")
    with pytest.raises(DownstreamError):
        fakes.account_keys.rotate(account)  # its reminder for the still-current key stays behind
    rotated_out = account.api_key_id
    fakes.account_keys.rotate(fakes.ports.accounts.get(ADA))
    fakes.clock.advance(GRACE_SECONDS)
    fakes.ports.api_keys.fail_next("delete_key")
    assert fakes.account_keys.retire_due().failed == 1
    assert fakes.account_keys.retire_due().retired == 1
    assert rotated_out not in fakes.ports.api_keys.keys
