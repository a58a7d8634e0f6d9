"""ApiGatewayKeys against API Gateway on moto: keys, the usage plan, and idempotent undo."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.stub import Stubber

from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.aws_clients import AWS_CLIENT_CONFIG, AwsClients
from tollgate import contract
from tollgate.domain.errors import DownstreamError

from testkit.lambda_events import KEY_OWNER


@pytest.fixture
def keys(aws) -> ApiGatewayKeys:
    return ApiGatewayKeys(AwsClients().client("apigateway"), KEY_OWNER)


def plan_key_ids(aws) -> set[str]:
    return {item["id"] for item in boto3.client("apigateway").get_usage_plan_keys(usagePlanId=aws.usage_plan_id)["items"]}


def test_a_new_key_is_enabled_but_in_no_plan_until_attached(keys, aws):
    issued = keys.create_key("tollgate-test", "a test key")

    assert issued.id not in plan_key_ids(aws)
    assert keys.key_value(issued.id) == issued.value
    keys.attach_to_plan(issued.id, aws.usage_plan_id)
    assert issued.id in plan_key_ids(aws)


def test_attaching_twice_is_not_an_error_and_detach_removes_the_key(keys, aws):
    issued = keys.create_key("tollgate-twice", "")

    keys.attach_to_plan(issued.id, aws.usage_plan_id)
    keys.attach_to_plan(issued.id, aws.usage_plan_id)
    keys.detach_from_plan(issued.id, aws.usage_plan_id)

    assert issued.id not in plan_key_ids(aws)


def test_detaching_a_key_that_is_in_no_plan_is_not_an_error(keys, aws):
    """API Gateway answers NotFoundException (moto as localdev.moto_gaps fills it): a plan change
    takes each key out of every plan it is not to be in."""
    issued = keys.create_key("tollgate-in-another-plan", "")
    keys.attach_to_plan(issued.id, aws.usage_plan_ids["free"])

    keys.detach_from_plan(issued.id, aws.usage_plan_id)

    assert issued.id in {key["id"] for key in boto3.client("apigateway").get_usage_plan_keys(
        usagePlanId=aws.usage_plan_ids["free"])["items"]}


def test_deleting_a_deleted_key_is_not_an_error(keys):
    issued = keys.create_key("tollgate-delete", "")

    keys.delete_key(issued.id)
    keys.delete_key(issued.id)

    with pytest.raises(DownstreamError) as raised:
        keys.key_value(issued.id)
    assert raised.value.retryable is False


def test_a_deleted_key_leaves_the_usage_plan_as_in_api_gateway(keys, aws):
    """localdev/moto_gaps.py: moto kept deleted keys in their plans (a revoked key, issue 12)."""
    issued = keys.create_key("tollgate-revoked", "")
    keys.attach_to_plan(issued.id, aws.usage_plan_id)

    keys.delete_key(issued.id)

    assert issued.id not in plan_key_ids(aws)


def test_set_enabled_flips_the_key(keys):
    issued = keys.create_key("tollgate-enable", "")

    keys.set_enabled(issued.id, False)
    assert boto3.client("apigateway").get_api_key(apiKey=issued.id)["enabled"] is False
    keys.set_enabled(issued.id, True)
    assert boto3.client("apigateway").get_api_key(apiKey=issued.id)["enabled"] is True


@pytest.mark.parametrize("status, code, retryable", [
    (429, "TooManyRequestsException", True),
    (503, "ServiceUnavailableException", True),
    (400, "BadRequestException", False),
])
def test_failures_map_to_downstream_errors_retryable_only_when_worth_retrying(aws, status, code, retryable):
    client = boto3.client("apigateway", config=AWS_CLIENT_CONFIG)
    stubber = Stubber(client)
    stubber.add_client_error("create_api_key", service_error_code=code, http_status_code=status)

    with stubber, pytest.raises(DownstreamError) as raised:
        ApiGatewayKeys(client, KEY_OWNER).create_key("x", "")

    assert raised.value.retryable is retryable and code in str(raised.value)


def test_keys_named_lists_only_keys_with_the_prefix_without_their_values(keys):
    prefix = "tollgate-listing-"
    first, second = keys.create_key(prefix + "a", ""), keys.create_key(prefix + "b", "")
    keys.create_key("tollgate-other", "")
    before = int(time.time())

    listed = {key.id: key for key in keys.keys_named(prefix)}

    assert set(listed) == {first.id, second.id}
    assert listed[first.id].name == prefix + "a" and abs(listed[first.id].created_at - before) <= 5
    assert first.value not in repr(listed)


def test_every_key_carries_the_owner_tag_and_another_deployments_keys_are_never_listed(keys, aws):
    """A second deployment in the same region (say staging) names its keys alike: the orphan search
    of one must never offer the other's keys for deletion."""
    ours = keys.create_key("tollgate-owned-a", "")
    staging = ApiGatewayKeys(AwsClients().client("apigateway"), "Tollgate/staging")
    theirs = staging.create_key("tollgate-owned-b", "")

    tags = boto3.client("apigateway").get_api_key(apiKey=ours.id)["tags"]

    assert tags == {contract.API_KEY_OWNER_TAG: KEY_OWNER}
    assert [key.id for key in keys.keys_named("tollgate-owned-")] == [ours.id]
    assert [key.id for key in staging.keys_named("tollgate-owned-")] == [theirs.id]


def test_every_key_of_the_region_counts_against_the_quota_whoever_made_it(keys):
    before = keys.count_in_region()
    keys.create_key("tollgate-counted", "")
    boto3.client("apigateway").create_api_key(name="another-api-key", enabled=False)  # another API's, disabled

    assert keys.count_in_region() == before + 2


def test_the_count_pages_through_every_key_500_at_a_time_without_values(aws):
    # moto answers every key in one page whatever the limit: stub API Gateway's paging instead.
    client = boto3.client("apigateway", config=AWS_CLIENT_CONFIG)
    stubber = Stubber(client)
    stubber.add_response("get_api_keys", {"items": [{"id": f"k{n}"} for n in range(500)], "position": "next"},
                         {"includeValues": False, "limit": 500})
    stubber.add_response("get_api_keys", {"items": [{"id": "last"}]},
                         {"includeValues": False, "limit": 500, "position": "next"})

    with stubber:
        assert ApiGatewayKeys(client, KEY_OWNER).count_in_region() == 501
    stubber.assert_no_pending_responses()
