"""Issue 14, key hygiene: the housekeeping deletes canceled accounts' keys after the retention (the
row keeps the key id, its history says when), counts the region's keys and the stuck rows; on fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.clock import START
from testkit.world import CANCELED_KEY_RETENTION_DAYS as RETENTION_DAYS
from testkit.world import World
from tollgate import contract
from tollgate.domain.account import RESERVATION_LEASE_SECONDS, Account, AccountStatus
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError
from tollgate.domain.housekeeping import DAY_SECONDS
from tollgate.domain.key_ring import KeyRecord, KeyState

NOW = int(START)
NO_DEADLINE = float("inf")


def canceled(world: World, email: str, days_ago: float) -> Account:
    """A customer whose subscription was deleted `days_ago`: the row canceled then, the usage key
    disabled, the customer key's item saying so."""
    canceled_at = int(NOW - days_ago * DAY_SECONDS)
    return world.customer(
        AccountStatus.CANCELED, "canceled", email=email, since=canceled_at - DAY_SECONDS, status_since=canceled_at
    )


def test_the_key_of_an_account_canceled_past_the_retention_is_deleted_and_the_row_remembers_it(world):
    old = canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    recent = canceled(world, "recent@example.com", days_ago=RETENTION_DAYS - 1)

    run = world.housekeeping.run(NO_DEADLINE)

    assert old.api_key_id not in world.api_keys.keys and recent.api_key_id in world.api_keys.keys
    row = world.accounts.rows["old@example.com"]
    assert row.status is AccountStatus.CANCELED and row.api_key_id == old.api_key_id  # late usage finds the customer
    record = row.keys[0]
    assert (record.state, record.until) == (KeyState.RETIRED, NOW)
    item = world.key_items.get(record.key_hash)
    assert (item.state, item.expires_at) == (KeyState.RETIRED, NOW + contract.ENDED_KEY_RETENTION_SECONDS)
    assert row.history[-1].status is AccountStatus.CANCELED and old.api_key_id in row.history[-1].cause
    assert row.canceled_since() == old.canceled_since()  # the deletion is not a new cancellation
    assert (run.keys_deleted, run.deletions_failed, run.keys_due) == (1, 0, 1)
    assert world.accounts.rows["recent@example.com"] == recent


def test_a_key_from_before_issue_20_still_in_api_gateway_is_deleted_with_the_current_one(world):
    old = canceled(world, "rotated@example.com", days_ago=RETENTION_DAYS + 1)
    newer = world.api_keys.create_key("tollgate-rotated-2", "d")
    # A row from before issue 20: its keys were API Gateway keys, the rotated-out one still there.
    rotated = replace(
        old,
        usage_key=None,
        api_key_id=newer.id,
        keys=(
            KeyRecord(old.api_key_id, NOW - 50 * DAY_SECONDS, KeyState.ROTATING_OUT, NOW - 39 * DAY_SECONDS),
            KeyRecord(newer.id, NOW - 40 * DAY_SECONDS),
        ),
    )
    world.accounts.rows[old.email] = rotated

    run = world.housekeeping.run(NO_DEADLINE)

    assert old.api_key_id not in world.api_keys.keys and newer.id not in world.api_keys.keys
    row = world.accounts.rows[old.email]
    assert [record.state for record in row.key_records] == [KeyState.RETIRED, KeyState.RETIRED]
    assert row.existing_key_ids == () and old.api_key_id in row.history[-1].cause and newer.id in row.history[-1].cause
    assert (run.keys_deleted, run.keys_due) == (2, 1)


def test_a_deleted_key_is_not_deleted_again(world):
    canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    world.housekeeping.run(NO_DEADLINE)

    again = world.housekeeping.run(NO_DEADLINE)

    assert (again.keys_due, again.keys_deleted) == (0, 0)
    assert world.api_keys.call_count("delete_key") == 1


def test_the_region_count_includes_other_apis_keys(world):
    canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    canceled(world, "recent@example.com", days_ago=1)
    world.api_keys.other_keys_in_region = 7400

    assert (
        world.housekeeping.run(NO_DEADLINE).keys_in_region == 7401
    )  # the old key is gone, the recent one still counts


def test_stuck_rows_are_counted_and_live_ones_are_not(world):
    rows = {
        "failed@example.com": Account(email="failed@example.com", status=AccountStatus.FAILED),
        "crashed@example.com": Account(
            email="crashed@example.com", status=AccountStatus.PENDING, lease_expires_at=NOW - 1
        ),
        "signing-up@example.com": Account(
            email="signing-up@example.com",
            status=AccountStatus.PENDING,
            lease_expires_at=NOW + RESERVATION_LEASE_SECONDS,
        ),
        "active@example.com": Account(email="active@example.com", status=AccountStatus.ACTIVE),
    }
    world.accounts.rows.update(rows)

    assert world.housekeeping.run(NO_DEADLINE).stuck_accounts == 2


def test_a_refused_deletion_is_reported_and_the_others_go_on(world):
    canceled(world, "a@example.com", days_ago=RETENTION_DAYS + 2)
    canceled(world, "b@example.com", days_ago=RETENTION_DAYS + 3)
    world.api_keys.fail("delete_key", error=DownstreamError("apigateway", "AccessDenied", retryable=False))

    run = world.housekeeping.run(NO_DEADLINE)

    assert (run.keys_deleted, run.deletions_failed) == (1, 1)
    (refused,) = [deletion for deletion in run.deletions if deletion.problem]
    assert "AccessDenied" in refused.problem
    (kept,) = [row for row in world.accounts.rows.values() if row.api_key_id == refused.api_key_id]
    assert (
        kept.gateway_key_ids == (refused.api_key_id,) and refused.api_key_id in world.api_keys.keys
    )  # tried again next run


def test_a_throttled_api_gateway_stops_the_run_until_the_next_one(world):
    for number in range(3):
        canceled(world, f"{number}@example.com", days_ago=RETENTION_DAYS + 1)
    world.api_keys.fail("delete_key", error=DownstreamError("apigateway", "TooManyRequests", retryable=True))

    run = world.housekeeping.run(NO_DEADLINE)

    assert (len(run.deletions), run.deletions_failed, run.keys_due) == (1, 1, 3)
    assert world.housekeeping.run(NO_DEADLINE).keys_deleted == 3


def test_deletions_are_paced_and_stop_at_the_deadline(world):
    for number in range(10):
        canceled(world, f"{number}@example.com", days_ago=RETENTION_DAYS + 1)

    run = world.housekeeping.run(deadline=NOW + 2.5)

    assert run.keys_deleted == 6  # 2 a second: at 0, 0.5, ... 2.5 s; the seventh would start past the deadline
    assert world.clock.slept == pytest.approx(2.5)


def test_a_row_a_new_sign_up_took_over_meanwhile_is_left_to_it(world):
    old = canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    taken_over = Account(
        email=old.email,
        status=AccountStatus.PENDING,
        attempt_id="new-sign-up",
        lease_expires_at=NOW + 100,
        version=old.version + 1,
    )  # as the store wrote it

    original_delete = world.api_keys.delete_key

    def delete_then_take_over(key_id: str) -> None:
        original_delete(key_id)
        world.accounts.rows[old.email] = taken_over  # the new sign-up saved its reservation meanwhile

    world.api_keys.delete_key = delete_then_take_over

    run = world.housekeeping.run(NO_DEADLINE)

    assert run.keys_deleted == 1 and world.accounts.rows[old.email] == taken_over


def test_the_key_count_failing_does_not_undo_the_deletions(world):
    canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    world.api_keys.fail("count_in_region")

    run = world.housekeeping.run(NO_DEADLINE)

    assert run.keys_deleted == 1 and run.keys_in_region is None and "count_in_region" in run.count_problem


def test_a_late_event_for_an_account_whose_key_was_deleted_makes_no_key_call(world):
    old = canceled(world, "old@example.com", days_ago=RETENTION_DAYS + 1)
    world.housekeeping.run(NO_DEADLINE)
    world.billing.put_subscription(old.subscription_id, old.customer_id, "canceled")
    calls_before = len(world.api_keys.calls)

    world.lifecycle.handle(
        BillingEvent(
            id="evt_late",
            type="customer.subscription.updated",
            created=NOW,
            customer_id=old.customer_id,
            subscription_id=old.subscription_id,
        )
    )

    assert world.api_keys.calls[calls_before:] == []  # no disable of a key that no longer exists
