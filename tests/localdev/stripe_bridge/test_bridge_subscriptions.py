"""Gaps 3, 4 and 9 (localdev/stripe_bridge/subscriptions.py): subscriptions on a price, no payment
method for a metered price, and Stripe's invoice.paid for the first invoice."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver

from tollgate.contract import STRIPE_API_VERSION


def test_subscriptions_on_a_metered_price_need_no_payment_method_and_show_the_price(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any):
    subscription = stripe_client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": metered_price.id}], "metadata": {"awsAPIKeyId": "k1"}})

    assert subscription.status == "active"
    assert subscription["items"].data[0].price.id == metered_price.id
    assert stripe_client.v1.subscriptions.retrieve(subscription.id)["items"].data[0].price.id == metered_price.id
    assert not stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data


def test_subscriptions_cancel_returns_canceled_with_the_price(stripe_client: stripe.StripeClient, customer: Any,
                                                              metered_price: Any):
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})
    canceled = stripe_client.v1.subscriptions.cancel(subscription.id)

    assert canceled.status == "canceled"
    assert canceled["items"].data[0].price.id == metered_price.id


def test_subscriptions_licensed_price_keeps_localstripe_payment_method_rule(stripe_client: stripe.StripeClient,
                                                                          customer: Any, product: Any):
    """Only metered prices get the $0 backing plan; a $9 licensed price still needs a card."""
    licensed = stripe_client.v1.prices.create(params={"currency": "usd", "product": product.id, "unit_amount": 900,
                                                      "recurring": {"interval": "month"}})
    with pytest.raises(stripe.InvalidRequestError, match="no payment method"):
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": licensed.id}]})


def test_subscriptions_unknown_price_is_resource_missing(stripe_client: stripe.StripeClient, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": "price_nope"}]})
    assert raised.value.param == "items[0][price]" and raised.value.code == "resource_missing"


def test_events_new_subscription_sends_invoice_paid_for_its_first_invoice(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any, webhook_endpoint: Any,
        webhook_receiver: WebhookReceiver):
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})

    event = webhook_receiver.wait_for("invoice.paid", subscription.latest_invoice).verified(webhook_endpoint.secret)
    assert event.api_version == STRIPE_API_VERSION
    assert event.data.object.status == "paid" and event.data.object.customer == customer.id
    assert event.data.object.parent.subscription_details.subscription == subscription.id
