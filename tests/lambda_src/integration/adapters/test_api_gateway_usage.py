"""UsagePlanUsage (tollgate.adapters.api_gateway_usage) on moto behind make dev's GetUsage/UpdateUsage
stand-in (localdev.usage_plan_usage): the quota a key has left, read and set, in the plan named."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import boto3
import pytest

from localdev.emulators import AWS_REGION, FAKE_AWS_CREDENTIALS
from localdev.usage_plan_usage import UsageCounter, UsagePlanUsageProxy
from tollgate.adapters.api_gateway_usage import UsagePlanUsage
from tollgate.domain.errors import DownstreamError
from tollgate.plans import Plan

QUOTA = 10


@pytest.fixture
def counter() -> UsageCounter:
    return UsageCounter(QUOTA)


@pytest.fixture
def apigateway(moto_server, counter):
    with UsagePlanUsageProxy(moto_server.endpoint_url, defaultdict(lambda: counter)) as proxy:  # any plan: `counter`
        yield boto3.client("apigateway", endpoint_url=proxy.url, region_name=AWS_REGION,
                           aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def plan_with_key(apigateway) -> tuple[Plan, str]:
    plan_id = apigateway.create_usage_plan(name="quota", quota={"limit": QUOTA, "period": "MONTH"})["id"]
    key_id = apigateway.create_api_key(name="key", enabled=True)["id"]
    apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
    return Plan("standard", "Standard", plan_id, "price_1", False, QUOTA, "MONTH"), key_id


def test_a_key_reads_what_it_has_left_and_the_plans_quota(apigateway, counter):
    plan, key_id = plan_with_key(apigateway)
    for _ in range(3):
        counter.take(key_id)
    today = datetime.now(timezone.utc).date()
    assert UsagePlanUsage(apigateway, (plan.usage_plan_id,)).quota_left(key_id, plan, today) == (QUOTA - 3, QUOTA)
    assert UsagePlanUsage(apigateway, (plan.usage_plan_id,)).quota_left("key-never-called", plan, today) == (
        QUOTA, QUOTA)


def test_the_quota_left_is_set_in_the_plan_named_by_the_call(apigateway, counter):
    plan, key_id = plan_with_key(apigateway)
    usage = UsagePlanUsage(apigateway, ("another-plan", plan.usage_plan_id))
    today = datetime.now(timezone.utc).date()

    usage.set_quota_left(key_id, 4, plan)
    assert usage.quota_left(key_id, plan, today) == (4, QUOTA)
    assert [counter.take(key_id) for _ in range(5)] == [True] * 4 + [False]


def test_setting_the_quota_of_a_key_outside_the_plan_is_a_downstream_error(apigateway):
    plan, _ = plan_with_key(apigateway)
    outside = apigateway.create_api_key(name="outside", enabled=True)["id"]
    with pytest.raises(DownstreamError, match="NotFoundException"):
        UsagePlanUsage(apigateway, (plan.usage_plan_id,)).set_quota_left(outside, 4, plan)
