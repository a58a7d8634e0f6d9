"""Gap 13 (localdev/stripe_bridge/billing_portal.py): customer portal configurations, sessions in
Stripe's shape, the stand-in page, and a cancellation there reaching the webhook like Stripe's."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver, raw_post

FEATURES = {
    "invoice_history": {"enabled": True},
    "payment_method_update": {"enabled": True},
    "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
}


@pytest.fixture
def configuration(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.billing_portal.configurations.create(
        {"features": FEATURES, "metadata": {"test": "portal"}, "business_profile": {"headline": "Billing"}}
    )


def test_a_configuration_has_stripes_shape_with_defaults_for_what_was_left_out(
    configuration: Any, stripe_client: stripe.StripeClient
):
    assert configuration.id.startswith("bpc_") and configuration.object == "billing_portal.configuration"
    assert configuration.active and configuration.features.subscription_cancel.mode == "at_period_end"
    assert configuration.features.customer_update.enabled is False  # not given: Stripe's default
    assert configuration.business_profile.headline == "Billing"
    updated = stripe_client.v1.billing_portal.configurations.update(
        configuration.id, {"features": {"invoice_history": {"enabled": False}}}
    )
    assert not updated.features.invoice_history.enabled and updated.features.payment_method_update.enabled
    listed = stripe_client.v1.billing_portal.configurations.list({"active": True, "limit": 100}).data
    assert configuration.id in [c.id for c in listed]


def test_a_session_points_at_the_stand_in_page_showing_the_customer_and_the_way_back(
    configuration: Any, stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = stripe_client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "return_url": "http://127.0.0.1:8000/account.html", "configuration": configuration.id}
    )

    assert session.object == "billing_portal.session" and session.customer == customer.id
    assert session.url == f"{stripe_api}/_bridge/portal/{session.id}"
    with urllib.request.urlopen(session.url, timeout=5) as page:
        html = page.read().decode()
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert customer.id in html and 'href="http://127.0.0.1:8000/account.html"' in html
    assert "Invoice history" in html


def test_a_session_for_an_unknown_customer_or_configuration_is_refused(
    stripe_client: stripe.StripeClient, configuration: Any, customer: Any
):
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        stripe_client.v1.billing_portal.sessions.create({"customer": "cus_nobody", "configuration": configuration.id})
    with pytest.raises(stripe.InvalidRequestError, match=r"No such billing_portal\.configuration"):
        stripe_client.v1.billing_portal.sessions.create({"customer": customer.id, "configuration": "bpc_nothing"})


def test_cancelling_in_the_portal_cancels_the_subscription_and_the_webhook_hears_of_it(
    configuration: Any,
    stripe_client: stripe.StripeClient,
    stripe_api: str,
    customer: Any,
    metered_price: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    subscription = stripe_client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    session = stripe_client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "configuration": configuration.id}
    )

    status, _, page = raw_post(stripe_api, f"/_bridge/portal/{session.id}/cancel", {"subscription": subscription.id})

    assert status == 200 and f"{subscription.id}: canceled" in page.decode()  # followed the 303 back to the page
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    webhook_receiver.wait_for("customer.subscription.deleted", subscription.id)
