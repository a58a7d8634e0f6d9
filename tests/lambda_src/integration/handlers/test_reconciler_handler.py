"""The scheduled reconciler end to end: the real handler and adapters on moto and the Stripe bridge,
with the webhook deliveries that would have told Tollgate LOST (the bridge delivers them to no
endpoint of this deployment). Accounts come from the real register handler."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

from testkit.emf import emf_documents
from testkit.lambda_events import DeployedFunction, ScheduledInvocation, deployed, sign_up
from testkit.stripe_events import deliver, stripe_event
from tollgate import contract
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_reconciler_runs import DynamoReconcilerRuns

RECONCILER_MODULE = "tollgate.handlers.reconciler"


@pytest.fixture(scope="module")
def reconciler_module(aws, stripe_api, moesif_collector, price_id) -> DeployedFunction:
    return deployed(RECONCILER_MODULE, aws.environment(stripe_api, moesif_collector.base_url, price_id))


def run_reconciler(module: DeployedFunction) -> dict:
    """What EventBridge Scheduler does every interval."""
    return module.handler({}, ScheduledInvocation(contract.RECONCILER_TIMEOUT_SECONDS))


def key_enabled(aws, account: dict) -> bool:
    """The stage lets the customer's key call (the authorizer's rule on its item, then the usage key's)."""
    return aws.can_call(account["apikey"])


def account_row(aws, account: dict):
    email = aws.key_item(account["apikey"])[contract.KEYS_ATTR_ACCOUNT]["S"]
    return DynamoAccounts(boto3.client("dynamodb"), aws.accounts_table).get(email)


def test_a_subscription_canceled_in_stripe_without_its_webhook_has_the_key_disabled(
    reconciler_module, register_module, aws, stripe_client, capsys
):
    account = sign_up(register_module)
    stripe_client.v1.subscriptions.cancel(account["subscriptionId"])  # customer.subscription.deleted: lost
    assert key_enabled(aws, account)

    summary = run_reconciler(reconciler_module)

    assert not key_enabled(aws, account) and not aws.usage_key_calls(account["apikey"])  # both lines refuse
    row = account_row(aws, account)
    assert row.status.value == "canceled" and row.history[-1].cause == "reconciler"
    assert summary["complete"] and summary["repaired"] >= 1 and summary["examined"] >= 1
    last_run = DynamoReconcilerRuns(boto3.client("dynamodb"), aws.accounts_table).last()
    assert (last_run.examined, last_run.repaired, last_run.cursor) == (summary["examined"], summary["repaired"], None)
    output = capsys.readouterr().out
    (metrics,) = [document for document in emf_documents(output) if contract.METRIC_ACCOUNTS_REPAIRED in document]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == contract.METRICS_NAMESPACE
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[contract.METRICS_STAGE_DIMENSION]]
    assert metrics[contract.METRICS_STAGE_DIMENSION] == "prod"
    assert metrics[contract.METRIC_ACCOUNTS_REPAIRED] == [summary["repaired"]]
    assert metrics[contract.METRIC_RECONCILER_RUNS_SUCCEEDED] == [1]  # the heartbeat
    assert last_run.repairs and f"{account['subscriptionId']} -> canceled" in last_run.repairs
    assert account["apikey"] not in output  # ids may show, never a key


def test_a_customer_who_paid_without_the_webhook_gets_the_key_back(
    reconciler_module, register_module, webhook_module, aws, stripe_api, stripe_client
):
    account = sign_up(register_module)
    fall_behind = urllib.request.Request(
        f"{stripe_api}/_bridge/subscriptions/{account['subscriptionId']}/past_due",
        data=b'{"amount_due": 900}',
        method="POST",
    )
    with urllib.request.urlopen(fall_behind, timeout=10) as answer:
        invoice_id = json.loads(answer.read())["invoice"]["id"]
    past_due = {
        "id": account["subscriptionId"],
        "object": "subscription",
        "customer": account["customerId"],
        "status": "past_due",
    }
    assert deliver(webhook_module, stripe_event("customer.subscription.updated", past_due))[0] == 200
    assert not key_enabled(aws, account)
    card = stripe_client.v1.payment_methods.attach("pm_card_visa", {"customer": account["customerId"]})
    stripe_client.v1.customers.update(account["customerId"], {"invoice_settings": {"default_payment_method": card.id}})
    stripe_client.v1.invoices.pay(invoice_id)  # invoice.paid and customer.subscription.updated: lost

    run_reconciler(reconciler_module)

    assert key_enabled(aws, account) and account_row(aws, account).status.value == "active"


def test_a_second_run_finds_nothing_left_to_repair(reconciler_module, register_module, aws, stripe_client):
    account = sign_up(register_module)
    stripe_client.v1.subscriptions.cancel(account["subscriptionId"])
    run_reconciler(reconciler_module)

    again = run_reconciler(reconciler_module)

    assert again["repaired"] == 0 and again["complete"] and not key_enabled(aws, account)
