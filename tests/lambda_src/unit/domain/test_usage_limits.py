"""Usage limits (tollgate.domain.usage_limits), on fakes: the reporter counts an account's calls, the
quota rule decides on the plan's quota period, the row carries the limit and its key items copy it
(what the authorizer answers from); it lifts at the period's end, and a plan change ends it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate import contract
from tollgate.domain.usage_limit import UsageLimit
from tollgate.domain.usage_limits import quota_period
from tollgate.plans import PlanCatalog

QUOTA = 5
# The free plan pooled (its quota counted by Tollgate), small enough to reach; the paid plans as they are.
PLANS = PlanCatalog(
    (
        TEST_PLANS.get("standard"),
        replace(TEST_PLANS.get("free"), quota_limit=QUOTA, pool_size=2),
        replace(TEST_PLANS.get("pro"), requires_payment_method=False),
    )
)
MAY_2027 = datetime(2027, 5, 14, 12, tzinfo=UTC).timestamp()
JUNE_2027 = int(datetime(2027, 6, 1, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "period, start, end",
    [
        ("DAY", datetime(2027, 5, 14, tzinfo=UTC), datetime(2027, 5, 15, tzinfo=UTC)),
        ("WEEK", datetime(2027, 5, 10, tzinfo=UTC), datetime(2027, 5, 17, tzinfo=UTC)),  # Monday to Monday
        ("MONTH", datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)),
    ],
)
def test_the_quota_period_is_the_utc_day_week_from_monday_or_month_api_gateway_counts(period, start, end):
    assert quota_period(period, int(MAY_2027)) == (int(start.timestamp()), int(end.timestamp()))


def free_account(world: World):
    """An account on the pooled free plan, its pool made first (as the housekeeping makes it)."""
    world.pool_provisioner.provision(float("inf"))
    return world.signed_up("bo@example.com", plan_id="free")


def calls(world: World, account, count: int) -> None:
    """`count` calls of the account now (the authorizer's principal, on its usage key), in one object the
    reporter reports; then a minute passes."""
    at_ms = int(world.clock() * 1000)
    world.reporter.report_object(
        world.ledger.put(
            ledger_bytes(
                [call_record(account.api_key_id, account_id=account.account_id, at_ms=at_ms + n) for n in range(count)]
            )
        )
    )
    world.clock.advance(60)


def item_limits(world: World, email: str) -> set[tuple[str | None, int | None]]:
    return {(item.usage_limit, item.usage_limit_until) for item in world.key_items.of_account(email)}


def test_quota_exceeded_a_pooled_account_reaching_its_quota_is_limited_until_the_period_ends():
    world = World.create(PLANS, start=MAY_2027)
    account = free_account(world)

    calls(world, account, QUOTA - 1)
    assert world.accounts.get(account.email).usage_limit is None
    calls(world, account, 1)

    limit = UsageLimit(contract.USAGE_LIMIT_QUOTA_EXCEEDED, JUNE_2027, "free")
    assert world.accounts.get(account.email).usage_limit == limit
    assert item_limits(world, account.email) == {(contract.USAGE_LIMIT_QUOTA_EXCEEDED, JUNE_2027)}


def test_quota_exceeded_is_only_decided_for_plans_whose_quota_tollgate_enforces():
    world = World.create(PLANS, start=MAY_2027)
    paid = world.signed_up("ada@example.com", plan_id="pro")  # its own gateway key: API Gateway counts its quota

    calls(world, paid, QUOTA * 3)

    assert world.accounts.get(paid.email).usage_limit is None


def test_a_steady_limited_caller_costs_no_row_write_per_object():
    world = World.create(PLANS, start=MAY_2027)
    account = free_account(world)
    calls(world, account, QUOTA)
    version = world.accounts.get(account.email).version

    calls(world, account, 2)  # calls already counted past the limit's decision (the lag)
    calls(world, account, 2)

    assert world.accounts.get(account.email).version == version


def test_the_limit_lifts_at_the_period_end_and_the_next_count_clears_it():
    world = World.create(PLANS, start=MAY_2027)
    account = free_account(world)
    calls(world, account, QUOTA)

    world.clock.now = JUNE_2027 + 60  # the authorizer already lets it call (tests/lambda_src/unit/handlers)
    calls(world, account, 1)

    assert world.accounts.get(account.email).usage_limit is None
    assert item_limits(world, account.email) == {(None, None)}


def test_a_plan_change_ends_the_limit_at_once_whoever_changes_the_plan():
    world = World.create(PLANS, start=MAY_2027)
    account = free_account(world)
    calls(world, account, QUOTA)

    world.plan_changes.request(world.accounts.get(account.email), "pro", "req-1", "https://shop.example/a")

    row = world.accounts.get(account.email)
    assert (row.plan_id, row.active_usage_limit) == ("pro", None)
    assert item_limits(world, account.email) == {(None, None)}


def test_a_limit_its_key_items_missed_is_copied_when_the_object_is_redelivered_counting_nothing_twice():
    world = World.create(PLANS, start=MAY_2027)
    account = free_account(world)
    calls(world, account, QUOTA - 1)
    world.key_items.fail("follow")
    source = world.ledger.put(
        ledger_bytes([call_record(account.api_key_id, account_id=account.account_id, at_ms=int(world.clock() * 1000))])
    )

    with pytest.raises(Exception, match="usage limits"):
        world.reporter.report_object(source)
    assert item_limits(world, account.email) == {(None, None)}  # the row has it; its items not yet
    world.reporter.report_object(source)  # the redelivery: counts nothing twice, copies the limit

    assert item_limits(world, account.email) == {(contract.USAGE_LIMIT_QUOTA_EXCEEDED, JUNE_2027)}
    assert world.counts.period_usage(account.account_id, 0, JUNE_2027).metered == QUOTA
