"""Gap 10 (localdev/stripe_bridge/invoices.py): a subscription past due with an open invoice, the
invoice list by status, and paying it with the customer's saved card (or a declining one)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver


@pytest.fixture
def subscription(stripe_client: stripe.StripeClient, customer: Any, metered_price: Any) -> Any:
    return stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )


def past_due(stripe_api: str, subscription_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The bridge's test hook, as `make dev` users call it with curl."""
    request = urllib.request.Request(
        f"{stripe_api}/_bridge/subscriptions/{subscription_id}/past_due",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def save_card(client: stripe.StripeClient, customer_id: str, test_card: str) -> str:
    """What the webhook does after Checkout: the collected card becomes the default for invoices."""
    card = client.v1.payment_methods.attach(test_card, params={"customer": customer_id})
    client.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": card.id}})
    return card.id


def test_invoices_past_due_hook_leaves_an_open_invoice_and_tells_the_webhooks(
    stripe_client, stripe_api, subscription, webhook_endpoint, webhook_receiver: WebhookReceiver
):
    status, answer = past_due(stripe_api, subscription.id, {"amount_due": 1250, "currency": "usd"})

    assert status == 200, answer
    invoice = answer["invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["currency"]) == ("open", 1250, "usd")
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription.id
    assert invoice["next_payment_attempt"] is None  # no card: Stripe will not retry
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    listed = stripe_client.v1.subscriptions.list(params={"status": "all", "limit": 100}).data
    assert next(s for s in listed if s.id == subscription.id).status == "past_due"
    open_invoices = stripe_client.v1.invoices.list(params={"subscription": subscription.id, "status": "open"}).data
    assert [i.id for i in open_invoices] == [invoice["id"]]
    assert [d["event_type"] for d in answer["deliveries"] if d["endpoint_id"] == webhook_endpoint.id] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    updated = webhook_receiver.wait_for("customer.subscription.updated", subscription.id).verified(
        webhook_endpoint.secret
    )
    assert updated.data.object.status == "past_due" and updated.data.previous_attributes.status == "active"


def test_invoices_pay_charges_the_saved_card_and_settles_the_subscription(
    stripe_client, stripe_api, customer, subscription, webhook_endpoint, webhook_receiver: WebhookReceiver
):
    invoice_id = past_due(stripe_api, subscription.id, {"amount_due": 900})[1]["invoice"]["id"]
    save_card(stripe_client, customer.id, "pm_card_visa")

    paid = stripe_client.v1.invoices.pay(invoice_id)

    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 900, 0)
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert not stripe_client.v1.invoices.list(params={"subscription": subscription.id, "status": "open"}).data
    webhook_receiver.wait_for("invoice.paid", invoice_id).verified(webhook_endpoint.secret)
    webhook_receiver.wait_for(
        "customer.subscription.updated", subscription.id, where=lambda shown: shown["status"] == "active"
    )


def test_invoices_pay_with_a_card_that_declines_charges_is_a_card_error_and_the_invoice_stays_open(
    stripe_client, stripe_api, customer, subscription, webhook_endpoint, webhook_receiver: WebhookReceiver
):
    invoice_id = past_due(stripe_api, subscription.id, {"amount_due": 900})[1]["invoice"]["id"]
    save_card(stripe_client, customer.id, "pm_card_chargeCustomerFail")  # attaches fine, every charge fails
    before = len(webhook_receiver.received)

    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.invoices.pay(invoice_id)

    assert raised.value.http_status == 402 and raised.value.code == "card_declined"
    body: Any = raised.value.json_body
    assert body["error"]["decline_code"] == "generic_decline"
    assert raised.value.user_message == "Your card was declined."
    assert stripe_client.v1.invoices.retrieve(invoice_id).status == "open"
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    failed = webhook_receiver.wait_for("invoice.payment_failed", invoice_id, after=before)
    assert failed.event["data"]["object"]["attempt_count"] == 2


def test_invoices_a_canceled_subscriptions_final_invoice_can_fail_and_it_stays_canceled(
    stripe_client, stripe_api, subscription
):
    """Money safety II, scenario 3: the final invoice of a subscription that ended fails."""
    assert stripe_client.v1.subscriptions.cancel(subscription.id).status == "canceled"

    status, answer = past_due(stripe_api, subscription.id, {"amount_due": 900})

    assert status == 200 and answer["invoice"]["status"] == "open" and answer["invoice"]["attempted"] is True
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert [
        i.id for i in stripe_client.v1.invoices.list(params={"customer": subscription.customer, "status": "open"}).data
    ] == [answer["invoice"]["id"]]


def test_invoices_pay_without_a_saved_card_is_refused(stripe_client, stripe_api, subscription):
    invoice_id = past_due(stripe_api, subscription.id, {"amount_due": 900})[1]["invoice"]["id"]

    with pytest.raises(stripe.InvalidRequestError, match="no attached payment source or default payment method"):
        stripe_client.v1.invoices.pay(invoice_id)


@pytest.mark.parametrize("body", [{}, {"amount_due": 0}, {"amount_due": "lots"}])
def test_invoices_past_due_hook_needs_a_positive_amount(stripe_api, subscription, body):
    status, answer = past_due(stripe_api, subscription.id, body)

    assert status == 400 and answer["error"]["param"] == "amount_due"


def test_invoices_list_keeps_localstripes_own_invoices(stripe_client, subscription):
    listed = stripe_client.v1.invoices.list(params={"subscription": subscription.id}).data

    assert [invoice.id for invoice in listed] == [subscription.latest_invoice]
    assert listed[0].status == "paid"
