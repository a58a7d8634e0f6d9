"""Issue 14, key hygiene: the housekeeping deletes canceled accounts' keys after the retention (the
row keeps the key id, its history says when), counts the region's keys and the stuck rows; on fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit import world as deployment
from testkit.world import CANCELED_KEY_RETENTION_DAYS as RETENTION_DAYS
from tollgate import contract
from tollgate.domain.account import (
    RESERVATION_LEASE_SECONDS,
    Account,
    AccountStatus,
    KeyRecord,
    KeyState,
    StatusChange,
)
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError
from tollgate.domain.housekeeping import DAY_SECONDS
from tollgate.domain.key_items import KeyIssuer, KeyItem

NOW = 1_800_000_000


class World:
    def __init__(self) -> None:
        self.deployment = deployment.World.create(start=float(NOW))
        self.clock, self.keys, self.accounts = self.deployment.clock, self.deployment.api_keys, self.deployment.accounts
        self.housekeeping = self.deployment.housekeeping

    def canceled(self, email: str, days_ago: float) -> Account:
        """An account canceled `days_ago` (its history says so), its usage key disabled then, its customer
        key's item saying so."""
        key = self.keys.create_key(f"tollgate-{email}", "d")
        self.keys.set_enabled(key.id, False)
        canceled_at = int(NOW - days_ago * DAY_SECONDS)
        _, record = KeyIssuer().issue(canceled_at - 86400)
        account = Account(email=email, status=AccountStatus.CANCELED, api_key_id=key.id, usage_key=key.value,
                          keys=(record,), account_id=f"acct_{email}", customer_id=f"cus_{email}",
                          subscription_id=f"sub_{email}", attempt_id=f"attempt-{email}", updated_at=canceled_at,
                          history=(StatusChange(canceled_at - 86400, AccountStatus.ACTIVE, "sign-up"),
                                   StatusChange(canceled_at, AccountStatus.CANCELED, "customer.subscription.deleted"))
                          ).with_keys_synced()
        self.accounts.rows[email] = account
        self.deployment.key_items.put(KeyItem.of(account, record))
        return account

    def run(self, deadline: float = float("inf")):
        return self.housekeeping.run(deadline)


@pytest.fixture
def world() -> World:
    return World()


def test_the_key_of_an_account_canceled_past_the_retention_is_deleted_and_the_row_remembers_it(world):
    old = world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    recent = world.canceled("recent@example.com", days_ago=RETENTION_DAYS - 1)

    run = world.run()

    assert old.api_key_id not in world.keys.keys and recent.api_key_id in world.keys.keys
    row = world.accounts.rows["old@example.com"]
    assert row.status is AccountStatus.CANCELED and row.api_key_id == old.api_key_id  # late usage finds the customer
    record = row.keys[0]
    assert (record.state, record.until) == (KeyState.RETIRED, NOW)
    item = world.deployment.key_items.get(record.key_hash)
    assert (item.state, item.expires_at) == (KeyState.RETIRED, NOW + contract.ENDED_KEY_RETENTION_SECONDS)
    assert row.history[-1].status is AccountStatus.CANCELED and old.api_key_id in row.history[-1].cause
    assert row.canceled_since() == old.canceled_since()  # the deletion is not a new cancellation
    assert (run.keys_deleted, run.deletions_failed, run.keys_due) == (1, 0, 1)
    assert world.accounts.rows["recent@example.com"] == recent


def test_a_key_from_before_issue_20_still_in_api_gateway_is_deleted_with_the_current_one(world):
    old = world.canceled("rotated@example.com", days_ago=RETENTION_DAYS + 1)
    newer = world.keys.create_key("tollgate-rotated-2", "d")
    # A row from before issue 20: its keys were API Gateway keys, the rotated-out one still there.
    rotated = replace(old, usage_key=None, api_key_id=newer.id, keys=(
        KeyRecord(old.api_key_id, NOW - 50 * DAY_SECONDS, KeyState.ROTATING_OUT, NOW - 39 * DAY_SECONDS),
        KeyRecord(newer.id, NOW - 40 * DAY_SECONDS)))
    world.accounts.rows[old.email] = rotated

    run = world.run()

    assert old.api_key_id not in world.keys.keys and newer.id not in world.keys.keys
    row = world.accounts.rows[old.email]
    assert [record.state for record in row.key_records] == [KeyState.RETIRED, KeyState.RETIRED]
    assert row.existing_key_ids == () and old.api_key_id in row.history[-1].cause and newer.id in row.history[-1].cause
    assert (run.keys_deleted, run.keys_due) == (2, 1)


def test_a_deleted_key_is_not_deleted_again(world):
    world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    world.run()

    again = world.run()

    assert (again.keys_due, again.keys_deleted) == (0, 0)
    assert world.keys.call_count("delete_key") == 1


def test_the_region_count_includes_other_apis_keys(world):
    world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    world.canceled("recent@example.com", days_ago=1)
    world.keys.other_keys_in_region = 7400

    assert world.run().keys_in_region == 7401  # the old key is gone, the recent one still counts


def test_stuck_rows_are_counted_and_live_ones_are_not(world):
    rows = {
        "failed@example.com": Account(email="failed@example.com", status=AccountStatus.FAILED),
        "crashed@example.com": Account(email="crashed@example.com", status=AccountStatus.PENDING,
                                       lease_expires_at=NOW - 1),
        "signing-up@example.com": Account(email="signing-up@example.com", status=AccountStatus.PENDING,
                                          lease_expires_at=NOW + RESERVATION_LEASE_SECONDS),
        "active@example.com": Account(email="active@example.com", status=AccountStatus.ACTIVE),
    }
    world.accounts.rows.update(rows)

    assert world.run().stuck_accounts == 2


def test_a_refused_deletion_is_reported_and_the_others_go_on(world):
    world.canceled("a@example.com", days_ago=RETENTION_DAYS + 2)
    world.canceled("b@example.com", days_ago=RETENTION_DAYS + 3)
    world.keys.fail("delete_key", error=DownstreamError("apigateway", "AccessDenied", retryable=False))

    run = world.run()

    assert (run.keys_deleted, run.deletions_failed) == (1, 1)
    (refused,) = [deletion for deletion in run.deletions if deletion.problem]
    assert "AccessDenied" in refused.problem
    (kept,) = [row for row in world.accounts.rows.values() if row.api_key_id == refused.api_key_id]
    assert kept.gateway_key_ids == (refused.api_key_id,) and refused.api_key_id in world.keys.keys  # tried again next run


def test_a_throttled_api_gateway_stops_the_run_until_the_next_one(world):
    for number in range(3):
        world.canceled(f"{number}@example.com", days_ago=RETENTION_DAYS + 1)
    world.keys.fail("delete_key", error=DownstreamError("apigateway", "TooManyRequests", retryable=True))

    run = world.run()

    assert (len(run.deletions), run.deletions_failed, run.keys_due) == (1, 1, 3)
    assert world.run().keys_deleted == 3


def test_deletions_are_paced_and_stop_at_the_deadline(world):
    for number in range(10):
        world.canceled(f"{number}@example.com", days_ago=RETENTION_DAYS + 1)

    run = world.run(deadline=NOW + 2.5)

    assert run.keys_deleted == 6  # 2 a second: at 0, 0.5, ... 2.5 s; the seventh would start past the deadline
    assert world.clock.slept == pytest.approx(2.5)


def test_a_row_a_new_sign_up_took_over_meanwhile_is_left_to_it(world):
    old = world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    taken_over = Account(email=old.email, status=AccountStatus.PENDING, attempt_id="new-sign-up",
                         lease_expires_at=NOW + 100, version=old.version + 1)  # as the store wrote it

    original_delete = world.keys.delete_key

    def delete_then_take_over(key_id: str) -> None:
        original_delete(key_id)
        world.accounts.rows[old.email] = taken_over  # the new sign-up saved its reservation meanwhile

    world.keys.delete_key = delete_then_take_over

    run = world.run()

    assert run.keys_deleted == 1 and world.accounts.rows[old.email] == taken_over


def test_the_key_count_failing_does_not_undo_the_deletions(world):
    world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    world.keys.fail("count_in_region")

    run = world.run()

    assert run.keys_deleted == 1 and run.keys_in_region is None and "count_in_region" in run.count_problem


def test_a_late_event_for_an_account_whose_key_was_deleted_makes_no_key_call(world):
    old = world.canceled("old@example.com", days_ago=RETENTION_DAYS + 1)
    world.run()
    world.deployment.billing.put_subscription(old.subscription_id, old.customer_id, "canceled")
    calls_before = len(world.keys.calls)

    world.deployment.lifecycle.handle(BillingEvent(id="evt_late", type="customer.subscription.updated", created=NOW,
                                  customer_id=old.customer_id, subscription_id=old.subscription_id))

    assert world.keys.calls[calls_before:] == []  # no disable of a key that no longer exists
