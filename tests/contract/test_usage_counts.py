"""The UsageCounts port (tollgate.domain.ports.usage_counts): FakeUsageCounts and DynamoUsageCounts on
moto answer alike.

What a quota Tollgate enforces rests on: an object's counts go into an account's hour once, however
often (or however concurrently) it is delivered; a period's usage sums the hours that start in it,
the billable calls per price included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.fake_usage_counts import FakeUsageCounts
from tollgate.adapters.dynamo_usage_counts import DynamoUsageCounts
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.usage_counting import HourCounts, PeriodUsage

HOUR = 1_796_000_400  # a UTC hour's start


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def counts(request) -> Iterator[UsageCounts]:
    if request.param == "fake":
        yield FakeUsageCounts()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoUsageCounts(request.getfixturevalue("aws_clients").client("dynamodb"), aws.usage.counts_table)


def account() -> str:
    return f"acct_{uuid.uuid4().hex[:20]}"


def test_an_objects_counts_are_added_once_however_often_it_is_delivered(counts):
    ada = account()
    first = HourCounts(ada, HOUR, "object-1", metered=5, billable=4, billed={"price_1": 4})

    assert counts.add(first) is True
    assert counts.add(first) is False  # a redelivery
    assert counts.add(HourCounts(ada, HOUR, "object-2", 2, 1, {"price_1": 1})) is True

    assert counts.period_usage(ada, HOUR, HOUR + 3600) == PeriodUsage(7, 5, {"price_1": 5})


def test_concurrent_deliveries_of_one_object_count_it_once(counts):
    ada = account()
    with ThreadPoolExecutor(max_workers=4) as pool:
        added = list(pool.map(counts.add, [HourCounts(ada, HOUR, "object-1", 3, 3, {})] * 8))

    assert added.count(True) == 1
    assert counts.period_usage(ada, HOUR, HOUR + 3600).metered == 3


def test_a_period_sums_the_hours_that_start_in_it_per_price(counts):
    ada, bob = account(), account()
    for hour, billed in (
        (HOUR - 3600, {"price_1": 1}),
        (HOUR, {"price_1": 2, "price_pro": 3}),
        (HOUR + 7200, {}),
        (HOUR + 10_800, {"price_pro": 9}),
    ):
        counts.add(HourCounts(ada, hour, "object-1", 10, sum(billed.values()), billed))
    counts.add(HourCounts(bob, HOUR, "object-1", 100, 0, {}))

    assert counts.period_usage(ada, HOUR, HOUR + 10_800) == PeriodUsage(20, 5, {"price_1": 2, "price_pro": 3})
    assert counts.period_usage(account(), HOUR, HOUR + 10_800) == PeriodUsage()
