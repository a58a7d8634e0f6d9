"""Gap 8 (localdev/stripe_bridge/webhooks.py): webhook endpoints, localstripe's own events reaching
them, and the bridge's own signed events (sent by a test or by `POST /_bridge/events`)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver

from localdev.emulators import StripeBridge


def test_webhook_endpoints_secret_shown_once_and_listed(stripe_client: stripe.StripeClient, webhook_endpoint: Any):
    assert webhook_endpoint.secret.startswith("whsec_")
    listed = {e.id: e for e in stripe_client.v1.webhook_endpoints.list(params={"limit": 100})}
    assert listed[webhook_endpoint.id].url == webhook_endpoint.url
    assert "secret" not in listed[webhook_endpoint.id]


def test_webhook_localstripe_events_reach_the_endpoint_with_a_valid_signature(
    stripe_client: stripe.StripeClient,
    customer: Any,
    metered_price: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    """localstripe signs `t.payload` with HMAC-SHA256 like Stripe: stripe 16 accepts it as is."""
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    stripe_client.v1.subscriptions.cancel(subscription.id)

    received = webhook_receiver.wait_for("customer.subscription.deleted", subscription.id)
    deleted = received.verified(webhook_endpoint.secret)
    assert deleted.data.object.id == subscription.id and deleted.data.object.status == "canceled"
    with pytest.raises(stripe.SignatureVerificationError):
        received.verified("whsec_wrong")


def test_webhook_bridge_events_can_be_sent_by_tests(
    stripe_bridge: StripeBridge, webhook_endpoint: Any, webhook_receiver: WebhookReceiver
):
    deliveries = stripe_bridge.send_event(
        "customer.subscription.updated", {"id": "sub_x", "status": "past_due"}, previous_attributes={"status": "active"}
    )

    assert [d.status for d in deliveries if d.endpoint_id == webhook_endpoint.id] == [200]
    event = webhook_receiver.wait_for("customer.subscription.updated", "sub_x").verified(webhook_endpoint.secret)
    assert event.data.object.status == "past_due" and event.data.previous_attributes.status == "active"
    assert [d for d in stripe_bridge.state.webhooks.deliveries if d.event_id == event.id] == deliveries


def test_webhook_bridge_events_can_be_sent_over_http(
    stripe_api: str, webhook_endpoint: Any, webhook_receiver: WebhookReceiver
):
    """`POST /_bridge/events`, as a developer sends one to `make dev` (curl, no Stripe key)."""
    body = {"type": "invoice.payment_failed", "object": {"id": "in_x", "object": "invoice", "customer": "cus_x"}}
    request = urllib.request.Request(
        f"{stripe_api}/_bridge/events",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        deliveries = json.loads(response.read())["deliveries"]

    assert [d["status"] for d in deliveries if d["endpoint_id"] == webhook_endpoint.id] == [200]
    event = webhook_receiver.wait_for("invoice.payment_failed", "in_x").verified(webhook_endpoint.secret)
    assert event.data.object.customer == "cus_x"


def test_webhook_endpoint_update_changes_which_events_it_receives(
    stripe_client: stripe.StripeClient, stripe_bridge: StripeBridge, webhook_receiver: WebhookReceiver
):
    endpoint = stripe_client.v1.webhook_endpoints.create(
        params={"url": webhook_receiver.url + "?narrow", "enabled_events": ["invoice.paid"]}
    )
    updated = stripe_client.v1.webhook_endpoints.update(endpoint.id, {"enabled_events": ["customer.updated"]})

    assert updated.enabled_events == ["customer.updated"]
    targets = {
        event_type: [d.endpoint_id for d in stripe_bridge.send_event(event_type, {"id": "obj_x"})]
        for event_type in ("invoice.paid", "customer.updated")
    }
    assert endpoint.id not in targets["invoice.paid"] and endpoint.id in targets["customer.updated"]
