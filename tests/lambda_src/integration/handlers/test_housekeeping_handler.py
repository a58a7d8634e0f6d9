"""Issue 14, key hygiene end to end: a customer signs up through the real register handler, cancels
in Stripe (the webhook cuts the account off), and once that is 31 days ago the housekeeping handler
deletes the account's usage key in API Gateway (moto) while the account row keeps its id and says
when, and the customer's Tollgate key is retired in the keys table (with a TTL); what it publishes."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from testkit.emf import emitted_metrics
from testkit.lambda_events import DeployedFunction, ScheduledInvocation, deployed, sign_up
from testkit.stripe_events import deliver, stripe_event
from tollgate import contract
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.domain.housekeeping import DAY_SECONDS


@pytest.fixture(scope="module")
def housekeeping(aws, stripe_api, moesif_collector, price_id) -> DeployedFunction:
    return deployed("tollgate.handlers.housekeeping", aws.environment(stripe_api, moesif_collector.base_url, price_id))


def as_if_days_ago(accounts: DynamoAccounts, email: str, days: int) -> None:
    """Move the row's history back: what it says happened now happened `days` ago."""
    row = accounts.get(email)
    history = tuple(replace(change, at=change.at - days * DAY_SECONDS) for change in row.history)
    accounts.update(replace(row, history=history, updated_at=row.updated_at - days * DAY_SECONDS), row)


def test_a_canceled_customers_key_is_deleted_after_the_retention_and_its_id_kept(
    register_module, webhook_module, housekeeping, aws, stripe_client, capsys
):
    account = sign_up(register_module)
    stripe_client.v1.subscriptions.cancel(account["subscriptionId"])
    deleted = {
        "id": account["subscriptionId"],
        "object": "subscription",
        "customer": account["customerId"],
        "status": "canceled",
    }
    assert deliver(webhook_module, stripe_event("customer.subscription.deleted", deleted))[0] == 200
    accounts = DynamoAccounts(boto3.client("dynamodb"), aws.accounts_table)
    first_run = housekeeping.handler({}, ScheduledInvocation(contract.HOUSEKEEPING_TIMEOUT_SECONDS))
    assert first_run["keysDeleted"] == 0  # canceled today: kept
    email = aws.key_item(account["apikey"])[contract.KEYS_ATTR_ACCOUNT]["S"]
    usage_key_id = aws.usage_key_id(account["apikey"])
    as_if_days_ago(accounts, email, contract.DEFAULT_CANCELED_KEY_RETENTION_DAYS + 1)
    keys_before = len(boto3.client("apigateway").get_api_keys()["items"])
    capsys.readouterr()

    summary = housekeeping.handler({}, ScheduledInvocation(contract.HOUSEKEEPING_TIMEOUT_SECONDS))

    with pytest.raises(boto3.client("apigateway").exceptions.NotFoundException):
        boto3.client("apigateway").get_api_key(apiKey=usage_key_id)
    row = accounts.get(email)
    assert row.status.value == "canceled" and row.api_key_id == usage_key_id and usage_key_id in row.history[-1].cause
    assert row.key(account["keyId"]).state.value == contract.KEY_STATE_RETIRED
    item = aws.key_item(account["apikey"])
    assert item[contract.KEYS_ATTR_STATE]["S"] == contract.KEY_STATE_RETIRED and contract.KEYS_TTL_ATTRIBUTE in item
    assert summary["keysDeleted"] >= 1 and summary["keysInRegion"] == keys_before - summary["keysDeleted"]
    published = emitted_metrics(capsys.readouterr().out)
    assert published[contract.METRIC_API_KEYS_IN_REGION] == [summary["keysInRegion"]]
    assert published[contract.METRIC_KEYS_DELETED] == [summary["keysDeleted"]]
