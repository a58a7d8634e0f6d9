"""Gaps 3, 4, 9, 15 and 16 (localdev/stripe_bridge/subscriptions.py): subscriptions on a price, no payment
method for a metered price, Stripe's invoice.paid for the first invoice, the list newest first, and a
deleted customer's subscriptions canceled."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver

from tollgate.contract import STRIPE_API_VERSION


def test_subscriptions_on_a_metered_price_need_no_payment_method_and_show_the_price(
    stripe_client: stripe.StripeClient, customer: Any, metered_price: Any
):
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}], "metadata": {"awsAPIKeyId": "k1"}}
    )

    assert subscription.status == "active"
    assert subscription["items"].data[0].price.id == metered_price.id
    assert stripe_client.v1.subscriptions.retrieve(subscription.id)["items"].data[0].price.id == metered_price.id
    assert not stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data


def test_subscriptions_cancel_returns_canceled_with_the_price(
    stripe_client: stripe.StripeClient, customer: Any, metered_price: Any
):
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    canceled = stripe_client.v1.subscriptions.cancel(subscription.id)

    assert canceled.status == "canceled"
    assert canceled["items"].data[0].price.id == metered_price.id


def test_subscriptions_licensed_price_keeps_localstripe_payment_method_rule(
    stripe_client: stripe.StripeClient, customer: Any, product: Any
):
    """Only metered prices get the $0 backing plan; a $9 licensed price still needs a card."""
    licensed = stripe_client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 900, "recurring": {"interval": "month"}}
    )
    with pytest.raises(stripe.InvalidRequestError, match="no payment method"):
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": licensed.id}]})


def test_subscriptions_unknown_price_is_resource_missing(stripe_client: stripe.StripeClient, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": "price_nope"}]})
    assert raised.value.param == "items[0][price]" and raised.value.code == "resource_missing"


def test_events_new_subscription_sends_invoice_paid_for_its_first_invoice(
    stripe_client: stripe.StripeClient,
    customer: Any,
    metered_price: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )

    event = webhook_receiver.wait_for("invoice.paid", subscription.latest_invoice).verified(webhook_endpoint.secret)
    assert event.api_version == STRIPE_API_VERSION
    assert event.data.object.status == "paid" and event.data.object.customer == customer.id
    assert event.data.object.parent.subscription_details.subscription == subscription.id


def test_subscriptions_are_listed_newest_first_with_the_status_stripe_shows(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any, metered_price: Any
):
    """Gap 15: localstripe lists oldest first and filters by the status it holds."""
    oldest, middle, newest = (
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": metered_price.id}]})
        for _ in range(3)
    )
    stripe_client.v1.subscriptions.cancel(middle.id)
    past_due(stripe_api, newest.id)

    listed = stripe_client.v1.subscriptions.list(params={"customer": customer.id, "status": "all", "limit": 2})
    rest = stripe_client.v1.subscriptions.list(
        params={"customer": customer.id, "status": "all", "starting_after": middle.id}
    )

    assert [s.id for s in listed.data] == [newest.id, middle.id] and listed.has_more
    assert [s.id for s in rest.data] == [oldest.id] and not rest.has_more
    assert [s.id for s in stripe_client.v1.subscriptions.list(params={"customer": customer.id}).data] == [
        newest.id,
        oldest.id,
    ]  # not canceled ones, by default
    assert [
        s.id for s in stripe_client.v1.subscriptions.list(params={"customer": customer.id, "status": "past_due"}).data
    ] == [newest.id]


def test_customers_deleted_have_their_subscriptions_canceled(
    stripe_client: stripe.StripeClient, customer: Any, metered_price: Any
):
    """Gap 16: localstripe leaves a deleted customer's subscriptions active (the cancellation is
    localstripe's own, which sends customer.subscription.deleted)."""
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )

    assert stripe_client.v1.customers.delete(customer.id).deleted

    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError) as gone:
        stripe_client.v1.customers.delete(customer.id)
    assert gone.value.http_status == 404


def past_due(stripe_api: str, subscription_id: str) -> None:
    """The bridge's hook (localdev/stripe_bridge/invoices.py): a renewal invoice failed."""
    hook = urllib.request.Request(
        f"{stripe_api}/_bridge/subscriptions/{subscription_id}/past_due",
        data=json.dumps({"amount_due": 500}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(hook, timeout=10):
        pass
