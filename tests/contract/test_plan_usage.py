"""The PlanUsage port (tollgate.domain.ports.keys): FakePlanUsage and UsagePlanUsage on moto (GetUsage as
localdev/moto_gaps.py adds it) answer alike.

What the account page and the usage report rely on: a usage key's quota left in the current period on
its plan's usage plan (the whole quota for a key never called), and the calls per key over whole UTC
days, both ends included."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from testkit.fake_access import FakePlanUsage
from testkit.fake_ports import TEST_PLANS
from tollgate.domain.ports.keys import PlanUsage
from tollgate.plans import Plan


@dataclass
class UsagePlans:
    """The port, a plan, and the gateway around it: a key in the plan, calls the plan counts on a day."""

    port: PlanUsage
    plan: Plan
    key_in_plan: Callable[[], str]
    count_calls: Callable[[str, int, date], None]


@pytest.fixture(scope="module", params=["fake", "apigateway"])
def usage(request) -> Iterator[UsagePlans]:
    if request.param == "fake":
        fake = FakePlanUsage()

        def fake_count(key_id: str, calls: int, day: date) -> None:
            fake.used[key_id, day] = fake.used.get((key_id, day), 0) + calls

        yield UsagePlans(fake, TEST_PLANS.default, lambda: f"k-{uuid.uuid4().hex[:8]}", fake_count)
        return
    from tollgate.adapters.api_gateway_usage import UsagePlanUsage

    aws, client = request.getfixturevalue("aws"), request.getfixturevalue("aws_clients").client("apigateway")
    plan = aws.plans("price_contract").default

    def key_in_plan() -> str:
        key_id = client.create_api_key(name=f"k-{uuid.uuid4().hex[:8]}", enabled=True)["id"]
        client.create_usage_plan_key(usagePlanId=plan.usage_plan_id, keyId=key_id, keyType="API_KEY")
        return key_id

    def count(key_id: str, calls: int, day: date) -> None:  # what the gateway counts as it lets calls through
        at = datetime.combine(day, time(12), UTC)
        assert all(aws.usage_counters[plan.usage_plan_id].take(key_id, at) for _ in range(calls))

    yield UsagePlans(UsagePlanUsage(client, tuple(aws.usage_plan_ids.values())), plan, key_in_plan, count)


def today() -> date:
    return datetime.now(UTC).date()


def test_a_key_never_called_has_its_plans_whole_quota(usage):
    assert usage.port.quota_left(usage.key_in_plan(), usage.plan, today()) == (usage.plan.quota_limit,) * 2


def test_each_call_the_plan_counts_leaves_one_less(usage):
    key_id = usage.key_in_plan()

    usage.count_calls(key_id, 3, today())

    assert usage.port.quota_left(key_id, usage.plan, today()) == (usage.plan.quota_limit - 3, usage.plan.quota_limit)


def test_calls_are_summed_per_key_over_whole_days_both_ends_included(usage):
    key_id, other_key = usage.key_in_plan(), usage.key_in_plan()
    yesterday = today() - timedelta(days=1)
    usage.count_calls(key_id, 2, yesterday)
    usage.count_calls(key_id, 3, today())
    usage.count_calls(other_key, 1, today())

    both_days = usage.port.calls_by_key(yesterday, today())

    assert (both_days[key_id], both_days[other_key]) == (5, 1)
    assert usage.port.calls_by_key(today(), today())[key_id] == 3
    before = usage.port.calls_by_key(yesterday - timedelta(days=3), yesterday - timedelta(days=1))
    assert before.get(key_id, 0) == 0  # GetUsage lists every key of a plan, those with no calls too
