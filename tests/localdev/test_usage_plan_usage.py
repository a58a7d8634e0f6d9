"""localdev/usage_plan_usage.py: GetUsage, which moto lacks, answered in API Gateway's shape from
what the local gateway counted; every other API Gateway call reaches moto through it unchanged."""

from __future__ import annotations

from datetime import date, datetime, timezone

import boto3
import pytest

from localdev.emulators import AWS_REGION, FAKE_AWS_CREDENTIALS
from localdev.usage_plan_usage import UsageCounter, UsagePlanUsageProxy
from tollgate.adapters.api_gateway_usage import UsagePlanUsage
from tollgate.plans import Plan


@pytest.fixture
def counter() -> UsageCounter:
    counter = UsageCounter()
    for day, calls in ((1, 3), (2, 4)):
        for _ in range(calls):
            counter.count("plan", "key-a", datetime(2026, 12, day, 12, tzinfo=timezone.utc))
    counter.count("plan", "key-b", datetime(2026, 12, 2, 23, 59, tzinfo=timezone.utc))
    return counter


def client(url: str):
    return boto3.client("apigateway", endpoint_url=url, region_name=AWS_REGION,
                        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def apigateway(moto_server, counter):
    with UsagePlanUsageProxy(moto_server.endpoint_url, counter, {"plan": (10, "MONTH")}) as proxy:
        yield client(proxy.url)


def test_get_usage_answers_per_key_and_day_with_what_is_left_of_the_quota(apigateway):
    usage = apigateway.get_usage(usagePlanId="plan", startDate="2026-12-01", endDate="2026-12-03")

    assert usage["items"] == {"key-a": [[3, 7], [4, 3], [0, 3]], "key-b": [[0, 10], [1, 9], [0, 9]]}
    assert apigateway.get_usage(usagePlanId="plan", keyId="key-b", startDate="2026-12-02",
                                endDate="2026-12-02")["items"] == {"key-b": [[1, 9]]}


def test_the_adapter_adds_up_the_days_of_each_key(apigateway):
    assert UsagePlanUsage(apigateway, ("plan", "empty-plan")).calls_by_key(date(2026, 12, 1), date(2026, 12, 2)) == {
        "key-a": 7, "key-b": 1}


def test_every_other_call_reaches_moto(apigateway):
    created = apigateway.create_api_key(name="through-the-stand-in", enabled=True)

    assert apigateway.get_api_key(apiKey=created["id"])["name"] == "through-the-stand-in"


def test_a_single_day_asked_for_says_what_is_left_of_the_months_quota(apigateway):
    """Issue 12: the account page asks for today only; the stand-in counts from the period's start."""
    assert apigateway.get_usage(usagePlanId="plan", keyId="key-a", startDate="2026-12-02",
                                endDate="2026-12-02")["items"] == {"key-a": [[4, 3]]}


def test_the_adapter_reads_the_quota_left_of_a_key_and_the_plans_quota(moto_server, counter):
    plan = Plan("standard", "Standard", "plan", "price_1", False, 10, "MONTH")
    with UsagePlanUsageProxy(moto_server.endpoint_url, counter, {"plan": (10, "MONTH")}) as proxy:
        apigateway = client(proxy.url)
        assert UsagePlanUsage(apigateway, ("plan",)).quota_left("key-a", plan, date(2026, 12, 3)) == (3, 10)
        assert UsagePlanUsage(apigateway, ("plan",)).quota_left("key-new", plan, date(2026, 12, 3)) == (10, 10)


@pytest.mark.parametrize("period, left_on_the_8th", [("DAY", 10), ("WEEK", 10), ("MONTH", 3)])
def test_the_quota_period_decides_where_counting_starts(moto_server, counter, period, left_on_the_8th):
    with UsagePlanUsageProxy(moto_server.endpoint_url, counter, {"plan": (10, period)}) as proxy:
        assert proxy.usage("plan", {"startDate": ["2026-12-08"], "endDate": ["2026-12-08"], "keyId": ["key-a"]})[
            "values"] == {"key-a": [[0, left_on_the_8th]]}
