"""Reconciler with in-memory fakes and a fake clock: lost events repaired through the lifecycle,
idempotent runs, Stripe's rate limit, the time bound and its cursor, failures that stop a run and
failures that do not. (Through the real handler on moto and the bridge: test_reconciler_handler.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.clock import START
from testkit.world import World
from tollgate.domain.account import AccountStatus
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError
from tollgate.domain.lifecycle import RECONCILE, SUBSCRIPTION_UPDATED, Outcome
from tollgate.domain.models import ReconcilerRun


def reconcile(world: World, run_id: str = "run-1", budget: float = 240.0):
    return world.reconciler.run(run_id, deadline=world.clock.now + budget)


def test_a_subscription_canceled_in_stripe_whose_webhook_was_lost_has_its_key_disabled(world: World):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")

    run, repairs = reconcile(world)

    assert not world.key_works(lost)
    assert world.row(lost).status is AccountStatus.CANCELED
    assert world.row(lost).history[-1].cause == RECONCILE
    assert (run.examined, run.repaired, run.failed, run.complete) == (1, 1, 0, True)
    assert [(r.subscription_id, r.outcome) for r in repairs] == [(lost.subscription_id, Outcome.APPLIED)]
    assert world.ports.reconciler_runs.run == run
    assert run.repairs == (f"{lost.subscription_id} -> canceled",) and run.succeeded  # for make status
    assert run.repairs_at == run.finished_at


def test_a_run_that_repairs_nothing_keeps_the_latest_repairs_for_operators(world: World):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")
    first, _ = reconcile(world, "run-1")
    world.clock.now += 900

    second, _ = reconcile(world, "run-2")

    assert second.repaired == 0 and second.finished_at > first.finished_at
    assert (second.repairs, second.repairs_at) == ((f"{lost.subscription_id} -> canceled",), first.finished_at)


def test_the_run_keeps_the_first_repairs_for_operators_and_counts_them_all(world: World):
    for _ in range(ReconcilerRun.REPAIRS_KEPT + 2):
        world.customer(AccountStatus.ACTIVE, stripe_status="canceled")

    run, _ = reconcile(world)

    assert run.repaired == ReconcilerRun.REPAIRS_KEPT + 2 and len(run.repairs) == ReconcilerRun.REPAIRS_KEPT


def test_a_customer_who_paid_while_the_webhook_was_lost_gets_the_key_back(world: World):
    paid = world.customer(AccountStatus.SUSPENDED, stripe_status="active")

    reconcile(world)

    assert world.key_works(paid) and world.row(paid).status is AccountStatus.ACTIVE


@pytest.mark.parametrize(
    "row_status, stripe_status",
    [
        (AccountStatus.SUSPENDED, "past_due"),
        (AccountStatus.SUSPENDED, "unpaid"),
        (AccountStatus.CANCELED, "incomplete_expired"),
    ],
)
def test_every_status_that_cuts_a_key_off_is_repaired(world: World, row_status, stripe_status):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status=stripe_status)

    reconcile(world)

    assert not world.key_works(lost) and world.row(lost).status is row_status


def test_accounts_that_agree_with_stripe_cost_no_write_and_no_key_call(world: World):
    for status, stripe_status in [
        (AccountStatus.ACTIVE, "active"),
        (AccountStatus.SUSPENDED, "past_due"),
        (AccountStatus.CANCELED, "canceled"),
        (AccountStatus.AWAITING_PAYMENT_METHOD, "active"),
    ]:
        world.customer(status, stripe_status)
    key_calls = len(world.api_keys.calls)

    run, repairs = reconcile(world)

    assert (run.examined, run.repaired, repairs) == (4, 0, [])
    assert world.accounts.call_count("update") == 0 and len(world.api_keys.calls) == key_calls
    assert world.billing.call_count("subscription") == 0  # one list call read all four


def test_a_key_not_known_to_match_its_row_is_asserted_once(world: World):
    """A half-applied event (the marker cleared, the key call lost): the row is right, the key may not be."""
    half_applied = world.customer(AccountStatus.SUSPENDED, stripe_status="past_due", key_works=True)
    world.accounts.rows[half_applied.email] = replace(world.row(half_applied), keys_synced_to=None)

    reconcile(world)
    second, _ = reconcile(world, "run-2")

    assert not world.key_works(half_applied) and world.row(half_applied).keys_in_sync
    assert second.repaired == 0


def test_subscriptions_no_account_of_this_deployment_records_are_left_alone(world: World):
    world.billing.put_subscription("sub_other_product", "cus_x", "canceled")
    ours = world.customer(AccountStatus.ACTIVE, stripe_status="active")

    run, repairs = reconcile(world)

    assert (run.examined, run.repaired, repairs) == (2, 0, [])
    assert world.key_works(ours)


@pytest.mark.parametrize("status", [AccountStatus.PENDING, AccountStatus.FAILED])
def test_rows_being_registered_or_left_failed_are_not_repaired(world: World, status):
    row = world.customer(status, stripe_status="canceled", key_works=True)

    run, _ = reconcile(world)

    assert run.repaired == 0 and world.row(row).status is status


def test_running_again_repairs_nothing_twice(world: World):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")
    reconcile(world, "run-1")
    history = world.row(lost).history

    again, repairs = reconcile(world, "run-2")
    retried_invocation = world.lifecycle.reconcile(
        next(iter(world.billing.list_subscriptions(None, 1).subscriptions)), "run-1", int(START)
    )

    assert (again.repaired, repairs) == (0, [])
    assert retried_invocation is Outcome.DUPLICATE  # the same run id: its event was applied already
    assert world.row(lost).history == history


def test_a_newer_webhook_applied_after_the_listing_wins(world: World):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status="past_due")
    listed = next(iter(world.billing.list_subscriptions(None, 1).subscriptions))
    world.billing.subscriptions[lost.subscription_id]["status"] = "active"  # the customer paid meanwhile
    world.lifecycle.handle(
        BillingEvent("evt_newer", SUBSCRIPTION_UPDATED, int(START) + 5, lost.customer_id, lost.subscription_id)
    )

    outcome = world.lifecycle.reconcile(listed, "run-1", listed_at=int(START))

    assert outcome is Outcome.STALE and world.key_works(lost)


def test_stripe_calls_are_paced_below_its_rate_limit():
    world = World.create(start=START, stripe_operations_per_second=5, reconciler_page_size=2)
    for _ in range(6):
        world.customer(AccountStatus.ACTIVE, stripe_status="canceled")  # 3 list calls + 6 repairs

    run, _ = reconcile(world)

    stripe_calls = sum(
        world.billing.call_count(method)
        for method in ("list_subscriptions", "subscription", "list_open_invoices", "open_invoices")
    )
    assert (run.repaired, stripe_calls) == (6, 10)
    assert world.clock.slept >= (stripe_calls - 1) / 5  # never two calls within 0.2 s


def test_a_run_stops_at_its_deadline_and_the_next_resumes_where_it_stopped():
    world = World.create(start=START, stripe_operations_per_second=1, reconciler_page_size=2)
    lost = [world.customer(AccountStatus.ACTIVE, stripe_status="canceled") for _ in range(5)]

    first, _ = reconcile(world, "run-1", budget=2.5)  # a list call and two repairs, a second each

    assert first.stopped_by == "time budget" and not first.complete
    assert first.succeeded  # running out of time is no failure: the heartbeat still beats
    assert first.cursor == lost[-2].subscription_id  # newest first: the two newest were examined
    assert [world.key_works(account) for account in lost] == [True, True, True, False, False]
    second, _ = reconcile(world, "run-2")
    assert second.complete and second.cursor is None and second.examined == 3
    assert not any(world.key_works(account) for account in lost)


def test_stripe_failing_to_list_ends_the_run_with_its_cursor_kept():
    world = World.create(start=START, reconciler_page_size=1)
    first, second = (world.customer(AccountStatus.ACTIVE, stripe_status="canceled") for _ in range(2))
    world.billing.fail("list_subscriptions", on_call=2)

    run, _ = reconcile(world)

    assert run.cursor == second.subscription_id and "list_subscriptions" in run.stopped_by
    assert not run.succeeded
    assert not world.key_works(second) and world.key_works(first)
    assert reconcile(world, "run-2")[0].complete and not world.key_works(first)


def test_a_service_failing_mid_repair_ends_the_run_before_that_subscription(world: World):
    lost = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")
    world.api_keys.fail(
        "set_enabled", on_call=world.api_keys.call_count("set_enabled") + 1
    )  # throttled, say: retryable

    run, _ = reconcile(world)

    assert run.cursor is None and run.examined == 1 and run.stopped_by and "apigateway" in run.stopped_by
    assert reconcile(world, "run-2")[0].repaired == 1 and not world.key_works(lost)


def test_an_account_refused_for_good_is_counted_and_the_run_goes_on(world: World):
    other = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")
    broken = world.customer(AccountStatus.ACTIVE, stripe_status="canceled")  # newest: examined first
    world.api_keys.fail(
        "set_enabled",
        on_call=world.api_keys.call_count("set_enabled") + 1,
        error=DownstreamError("apigateway", "key not found", retryable=False),
    )

    run, repairs = reconcile(world)

    assert (run.examined, run.repaired, run.failed, run.complete) == (2, 1, 1, True)
    assert repairs[0].subscription_id == broken.subscription_id and "key not found" in repairs[0].problem
    assert not world.key_works(other)
    assert run.repairs == (f"{other.subscription_id} -> canceled",) and run.succeeded
