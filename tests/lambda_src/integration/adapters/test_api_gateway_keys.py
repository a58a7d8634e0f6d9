"""ApiGatewayKeys against API Gateway on moto, what is particular to the adapter: the owner tag that keeps
one deployment's keys from another's, the region-wide count and its paging, and how API Gateway's
failures map to DownstreamError. What the ApiKeys port promises is in tests/contract/test_api_keys.py."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from testkit.lambda_events import KEY_OWNER
from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.aws_clients import AWS_CLIENT_CONFIG, AwsClients
from tollgate.domain.errors import DownstreamError


@pytest.fixture
def keys(aws) -> ApiGatewayKeys:
    return ApiGatewayKeys(AwsClients().client("apigateway"), KEY_OWNER)


@pytest.mark.parametrize(
    "status, code, retryable",
    [
        (429, "TooManyRequestsException", True),
        (503, "ServiceUnavailableException", True),
        (400, "BadRequestException", False),
    ],
)
def test_failures_map_to_downstream_errors_retryable_only_when_worth_retrying(aws, status, code, retryable):
    client = boto3.client("apigateway", config=AWS_CLIENT_CONFIG)
    stubber = Stubber(client)
    stubber.add_client_error("create_api_key", service_error_code=code, http_status_code=status)

    with stubber, pytest.raises(DownstreamError) as raised:
        ApiGatewayKeys(client, KEY_OWNER).create_key("x", "")

    assert raised.value.retryable is retryable and code in str(raised.value)


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
    stubber.add_response(
        "get_api_keys",
        {"items": [{"id": f"k{n}"} for n in range(500)], "position": "next"},
        {"includeValues": False, "limit": 500},
    )
    stubber.add_response(
        "get_api_keys", {"items": [{"id": "last"}]}, {"includeValues": False, "limit": 500, "position": "next"}
    )

    with stubber:
        assert ApiGatewayKeys(client, KEY_OWNER).count_in_region() == 501
    stubber.assert_no_pending_responses()
