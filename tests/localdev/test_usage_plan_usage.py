"""localdev/usage_plan_usage.py: GetUsage, which moto lacks, answered in API Gateway's
shape from what the local gateway counted; every other API Gateway call reaches moto through it
unchanged; the counter refuses a call once the key's quota is used up."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import boto3
import pytest

from localdev.emulators import AWS_REGION, FAKE_AWS_CREDENTIALS
from localdev.usage_plan_usage import UsageCounter, UsagePlanUsageProxy
from tollgate.adapters.api_gateway_usage import UsagePlanUsage


def on(day: int, hour: int = 12, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def counted(quota_limit: int = 10, quota_period: str = "MONTH") -> UsageCounter:
    counter = UsageCounter(quota_limit, quota_period)
    for day, calls in ((1, 3), (2, 4)):
        for _ in range(calls):
            assert counter.take("key-a", on(day))
    assert counter.take("key-b", datetime(2026, 12, 2, 23, 59, tzinfo=UTC))
    return counter


def client(url: str):
    return boto3.client(
        "apigateway",
        endpoint_url=url,
        region_name=AWS_REGION,
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def counter() -> UsageCounter:
    return counted()


@pytest.fixture
def apigateway(moto_server, counter):
    with UsagePlanUsageProxy(moto_server.endpoint_url, defaultdict(lambda: counter)) as proxy:  # any plan: `counter`
        yield client(proxy.url)


def test_get_usage_answers_per_key_and_day_with_what_is_left_of_the_quota(apigateway):
    usage = apigateway.get_usage(usagePlanId="plan", startDate="2026-12-01", endDate="2026-12-03")

    assert usage["items"] == {"key-a": [[3, 7], [4, 3], [0, 3]], "key-b": [[0, 10], [1, 9], [0, 9]]}
    assert apigateway.get_usage(usagePlanId="plan", keyId="key-b", startDate="2026-12-02", endDate="2026-12-02")[
        "items"
    ] == {"key-b": [[1, 9]]}


def test_the_adapter_adds_up_the_days_of_each_key(apigateway):
    assert UsagePlanUsage(apigateway, ("plan",)).calls_by_key(date(2026, 12, 1), date(2026, 12, 2)) == {
        "key-a": 7,
        "key-b": 1,
    }


def test_every_other_call_reaches_moto(apigateway):
    created = apigateway.create_api_key(name="through-the-stand-in", enabled=True)

    assert apigateway.get_api_key(apiKey=created["id"])["name"] == "through-the-stand-in"


def test_a_single_day_asked_for_says_what_is_left_of_the_months_quota(apigateway):
    """Issue 12: the account page asks for today only; the stand-in counts from the period's start."""
    assert apigateway.get_usage(usagePlanId="plan", keyId="key-a", startDate="2026-12-02", endDate="2026-12-02")[
        "items"
    ] == {"key-a": [[4, 3]]}


@pytest.mark.parametrize("period, left_on_the_8th", [("DAY", 10), ("WEEK", 10), ("MONTH", 3)])
def test_the_quota_period_decides_where_counting_starts(period, left_on_the_8th):
    assert counted(quota_period=period).remaining("key-a", date(2026, 12, 8)) == left_on_the_8th


def test_a_key_is_refused_once_its_quota_is_used_up_until_the_next_period():
    counter = counted(quota_limit=10)
    assert [counter.take("key-a", on(3)) for _ in range(4)] == [True, True, True, False]
    assert counter.used("key-a", date(2026, 12, 3)) == 3  # a refused call is not counted
    assert counter.take("key-a", on(1, month=1).replace(year=2027))
