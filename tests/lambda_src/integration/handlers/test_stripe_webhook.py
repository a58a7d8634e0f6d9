"""POST /stripe/webhook end to end: events signed with the stripe SDK's own scheme
(`stripe.WebhookSignature`, `t=...,v1=HMAC-SHA256`), through the real handler and adapters, on
moto (API keys, accounts table, secret) and localstripe behind the bridge (subscriptions,
Checkout in setup mode, setup intents). Accounts are created by the real register handler."""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import pytest
import stripe

from testkit.lambda_events import (
    SIGNUP_ORIGIN,
    DeployedFunction,
    api_gateway_event,
    cors_headers,
    deployed,
    invoke,
    sign_up,
)
from testkit.moto_stack import WEBHOOK_SECRET
from testkit.stripe_events import deliver, stripe_event
from tollgate import contract
from tollgate.adapters.stripe_webhook_events import billing_event
from tollgate.handlers.stripe_webhook import NOT_FROM_STRIPE


@pytest.fixture(scope="module")
def waiting_register_module(aws, stripe_api, moesif_collector, price_id) -> DeployedFunction:
    """The register handler deployed with require_payment_method on."""
    environment = aws.environment(stripe_api, moesif_collector.base_url, price_id, require_payment_method=True)
    return deployed("tollgate.handlers.register", environment)


def subscription_event(event_type: str, account: dict, status: str, created: int | None = None) -> str:
    subscription = {
        "id": account["subscriptionId"],
        "object": "subscription",
        "customer": account["customerId"],
        "status": status,
    }
    return stripe_event(event_type, subscription, created)


def complete_checkout_in_the_bridge(stripe_api: str, session_id: str) -> dict:
    """What the customer does on the Checkout page (the bridge's test-only completion hook)."""
    request = urllib.request.Request(f"{stripe_api}/_bridge/checkout/{session_id}/complete", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def complete_setup_checkout(stripe_api: str, stripe_client, account: dict) -> dict:
    session = stripe_client.v1.checkout.sessions.create(
        {
            "mode": "setup",
            "customer": account["customerId"],
            "currency": "usd",
            "success_url": SIGNUP_ORIGIN + "/?checkout=success",
        }
    )
    return complete_checkout_in_the_bridge(stripe_api, session.id)


def key_enabled(aws, account: dict) -> bool:
    """The stage lets the customer's key call (the authorizer's rule on its item, then the usage key's)."""
    return aws.can_call(account["apikey"])


def cut_off(aws, account: dict) -> bool:
    """Both lines refuse the account: its key's item carries a status the authorizer denies, and its
    usage key no longer calls (disabled, the second line)."""
    status = aws.key_item(account["apikey"])[contract.KEYS_ATTR_ACCOUNT_STATUS]["S"]
    return status not in contract.KEY_CALLABLE_ACCOUNT_STATUSES and not aws.usage_key_calls(account["apikey"])


def in_usage_plan(aws, account: dict) -> bool:
    keys = boto3.client("apigateway").get_usage_plan_keys(usagePlanId=aws.usage_plan_id)["items"]
    return aws.usage_key_id(account["apikey"]) in {key["id"] for key in keys}


def account_row(aws, account: dict) -> dict:
    email = aws.key_item(account["apikey"])[contract.KEYS_ATTR_ACCOUNT]["S"]
    return (
        boto3.resource("dynamodb").Table(aws.accounts_table).get_item(Key={"email": email}, ConsistentRead=True)["Item"]
    )


def event_recorded(aws, payload: str) -> bool:
    key = {"email": {"S": "stripe-event#" + json.loads(payload)["id"]}}
    return "Item" in boto3.client("dynamodb").get_item(TableName=aws.accounts_table, Key=key)


@pytest.fixture
def cancelled(register_module, stripe_client) -> dict:
    """A registered customer whose subscription was just cancelled in Stripe."""
    account = sign_up(register_module)
    stripe_client.v1.subscriptions.cancel(account["subscriptionId"])
    return account


def test_a_signed_deletion_disables_the_key_and_records_status_and_history(webhook_module, aws, cancelled):
    payload = subscription_event("customer.subscription.deleted", cancelled, "canceled")
    assert key_enabled(aws, cancelled)

    status, headers, body = deliver(webhook_module, payload)

    assert (status, body) == (200, {"received": True, "outcome": "applied"})
    assert not cors_headers(headers)
    assert cut_off(aws, cancelled)
    row = account_row(aws, cancelled)
    assert row["status"] == "canceled" and row["cutOffReason"] == "The subscription is canceled."
    assert row["history"][-1]["cause"] == "customer.subscription.deleted"
    assert row["history"][-1]["eventId"] == json.loads(payload)["id"]
    assert event_recorded(aws, payload)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda payload: {"payload": payload.replace('"canceled"', '"cancelled"')}, id="tampered-body"),
        pytest.param(lambda payload: {"secret": "whsec_not_the_endpoints"}, id="wrong-secret"),
        pytest.param(lambda payload: {"timestamp": int(time.time()) - 301}, id="stale-timestamp"),
        pytest.param(lambda payload: {"signature": ""}, id="missing-signature"),
        pytest.param(lambda payload: {"signature": "t=1,v0=abc"}, id="wrong-scheme"),
    ],
)
def test_an_event_stripe_did_not_sign_now_is_rejected_and_changes_nothing(webhook_module, aws, cancelled, tamper):
    payload = subscription_event("customer.subscription.deleted", cancelled, "canceled")
    options = tamper(payload)
    signed = stripe.WebhookSignature.generate_signature_header(
        payload, options.get("secret", WEBHOOK_SECRET), options.get("timestamp")
    )
    with webhook_module.captured_logs() as log:
        status, _, body = deliver(
            webhook_module, options.get("payload", payload), signature=options.get("signature", signed)
        )

    assert status == 400 and body["error"] == NOT_FROM_STRIPE  # our sentence, not the SDK's developer text
    (rejection,) = [json.loads(line) for line in log.getvalue().splitlines() if "did not sign" in line]
    assert rejection["reason"]  # the verifier's detail is kept in the log
    assert key_enabled(aws, cancelled)
    assert account_row(aws, cancelled)["status"] == "active"
    assert not event_recorded(aws, payload)


def test_a_replayed_event_is_applied_once(webhook_module, aws, cancelled):
    payload = subscription_event("customer.subscription.deleted", cancelled, "canceled")

    first = deliver(webhook_module, payload)
    history = account_row(aws, cancelled)["history"]
    second = deliver(webhook_module, payload)

    assert (first[0], first[2]["outcome"]) == (200, "applied")
    assert (second[0], second[2]["outcome"]) == (200, "duplicate")
    assert account_row(aws, cancelled)["history"] == history
    assert cut_off(aws, cancelled)


def test_a_late_update_to_active_after_the_deletion_leaves_the_key_disabled(webhook_module, aws, cancelled):
    now = int(time.time())
    deleted = subscription_event("customer.subscription.deleted", cancelled, "canceled", created=now)
    late_update = subscription_event("customer.subscription.updated", cancelled, "active", created=now - 30)

    assert deliver(webhook_module, deleted)[2]["outcome"] == "applied"
    status, _, body = deliver(webhook_module, late_update)

    assert (status, body["outcome"]) == (200, "stale")
    assert cut_off(aws, cancelled)
    assert account_row(aws, cancelled)["status"] == "canceled"


def test_an_update_claiming_active_is_checked_against_stripe(webhook_module, aws, cancelled):
    """Even a newer `updated` event cannot re-enable a key whose subscription Stripe says is canceled."""
    now = int(time.time())
    deliver(webhook_module, subscription_event("customer.subscription.deleted", cancelled, "canceled", created=now - 5))

    status, _, body = deliver(
        webhook_module, subscription_event("customer.subscription.updated", cancelled, "active", created=now)
    )

    assert (status, body["outcome"]) == (200, "applied")
    assert cut_off(aws, cancelled)


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(webhook_module, aws, cancelled):
    payload = subscription_event("customer.subscription.deleted", cancelled, "canceled")

    status, _, body = deliver(webhook_module, payload, base64_encoded=True)

    assert (status, body["outcome"]) == (200, "applied")
    assert cut_off(aws, cancelled)


def test_an_event_type_tollgate_does_not_handle_is_acknowledged_and_ignored(webhook_module, aws, register_module):
    account = sign_up(register_module)
    payload = stripe_event("customer.updated", {"id": account["customerId"], "object": "customer"})

    status, _, body = deliver(webhook_module, payload)

    assert (status, body["outcome"]) == (200, "ignored")
    assert key_enabled(aws, account) and not event_recorded(aws, payload)


def test_completed_checkout_makes_the_card_the_default_and_activates_a_waiting_key(
    webhook_module, waiting_register_module, aws, stripe_api, stripe_client
):
    account = sign_up(waiting_register_module)
    assert account["status"] == "awaiting_payment_method" and not in_usage_plan(aws, account)
    completed = complete_setup_checkout(stripe_api, stripe_client, account)

    status, _, body = deliver(webhook_module, stripe_event("checkout.session.completed", completed["session"]))

    assert (status, body["outcome"]) == (200, "applied")
    assert in_usage_plan(aws, account) and key_enabled(aws, account)
    assert account_row(aws, account)["status"] == "active"
    customer = stripe_client.v1.customers.retrieve(account["customerId"])
    assert customer.invoice_settings.default_payment_method == completed["payment_method"]


def test_a_late_checkout_of_an_older_card_is_applied_but_keeps_the_newer_card_the_default(
    webhook_module, register_module, stripe_api, stripe_client
):
    account = sign_up(register_module)
    now = int(time.time())
    older = complete_setup_checkout(stripe_api, stripe_client, account)
    time.sleep(1.05)  # Stripe stamps payment methods to the second
    newer = complete_setup_checkout(stripe_api, stripe_client, account)

    first = deliver(webhook_module, stripe_event("checkout.session.completed", newer["session"], created=now + 1))
    late = deliver(webhook_module, stripe_event("checkout.session.completed", older["session"], created=now))

    assert (first[2]["outcome"], late[2]["outcome"]) == ("applied", "applied")
    customer = stripe_client.v1.customers.retrieve(account["customerId"])
    assert customer.invoice_settings.default_payment_method == newer["payment_method"]


@pytest.mark.parametrize(
    "invoice",
    [
        pytest.param({"parent": {"subscription_details": {"subscription": "sub_1"}}}, id="current-api"),
        pytest.param({"subscription": "sub_1"}, id="before-2025-03-31"),
        pytest.param({"subscription": {"id": "sub_1", "object": "subscription"}}, id="expanded"),
    ],
)
def test_an_invoice_names_its_subscription_in_every_api_version_shape(invoice):
    document = json.loads(stripe_event("invoice.paid", {"object": "invoice", "customer": "cus_1", **invoice}))

    event = billing_event(document)

    assert (event.type, event.subscription_id, event.customer_id) == ("invoice.paid", "sub_1", "cus_1")


def test_stripes_own_paid_first_invoice_is_matched_and_recorded_without_activating_a_waiting_key(
    webhook_module, waiting_register_module, aws, stripe_client
):
    account = sign_up(waiting_register_module)
    subscription = stripe_client.v1.subscriptions.retrieve(account["subscriptionId"])
    invoice = stripe_client.v1.invoices.retrieve(subscription.latest_invoice).to_dict()
    payload = stripe_event("invoice.paid", invoice)

    status, _, body = deliver(webhook_module, payload)

    assert (status, body["outcome"]) == (200, "applied")
    row = account_row(aws, account)
    assert row["status"] == "awaiting_payment_method" and row["history"][-1]["cause"] == "invoice.paid"
    assert not in_usage_plan(aws, account)


def test_a_customer_whose_subscription_was_canceled_signs_up_again_with_a_new_key(
    webhook_module, register_module, aws, cancelled, stripe_client
):
    deliver(webhook_module, subscription_event("customer.subscription.deleted", cancelled, "canceled"))
    email, old_usage_key = account_row(aws, cancelled)["email"], aws.usage_key_id(cancelled["apikey"])

    status, _, again = invoke(
        register_module, api_gateway_event(json.dumps({"email": email, "firstname": "Ann", "lastname": "Lee"}))
    )

    assert status == 201, again
    assert again["keyId"] != cancelled["keyId"] and key_enabled(aws, again) and in_usage_plan(aws, again)
    assert aws.usage_key_id(again["apikey"]) != old_usage_key
    with pytest.raises(boto3.client("apigateway").exceptions.NotFoundException):
        boto3.client("apigateway").get_api_key(apiKey=old_usage_key)  # the old, disabled usage key is deleted
    assert aws.key_item(cancelled["apikey"])[contract.KEYS_ATTR_STATE]["S"] == contract.KEY_STATE_RETIRED
    assert stripe_client.v1.subscriptions.retrieve(again["subscriptionId"]).status == "active"
    assert account_row(aws, again)["status"] == "active"


@pytest.mark.parametrize(
    "next_attempt, then",
    [
        (None, "Stripe will not retry it: add or update the payment method."),
        (1_900_000_000, "Stripe will try again."),
    ],
)
def test_a_failed_payment_event_says_what_failed_and_whether_stripe_retries(next_attempt, then):
    invoice = {
        "object": "invoice",
        "id": "in_1",
        "number": "TG-0001",
        "customer": "cus_1",
        "amount_due": 1234,
        "currency": "usd",
        "attempt_count": 2,
        "next_payment_attempt": next_attempt,
        "parent": {"subscription_details": {"subscription": "sub_1"}},
    }

    event = billing_event(json.loads(stripe_event("invoice.payment_failed", invoice)))

    assert event.subscription_id == "sub_1"
    assert event.failure_reason == f"Payment of invoice TG-0001 (12.34 USD) failed (attempt 2). {then}"
