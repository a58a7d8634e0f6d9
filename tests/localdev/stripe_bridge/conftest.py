"""Fixtures of the bridge tests: fresh Stripe objects per test (the bridge and localstripe are the
session's emulators, shared by every test), and one webhook endpoint with its receiver per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from bridge_support import KEY, WebhookReceiver, unique_email


@pytest.fixture
def product(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.products.create(params={"name": "Tollgate API", "metadata": {"tollgate": uuid.uuid4().hex}})


@pytest.fixture
def meter(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": f"api_call_{uuid.uuid4().hex[:8]}",
            "default_aggregation": {"formula": "sum"},
        }
    )


@pytest.fixture
def metered_price(stripe_client: stripe.StripeClient, product: Any, meter: Any) -> Any:
    return stripe_client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "0.5",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )


@pytest.fixture
def other_price(stripe_client: stripe.StripeClient, product: Any) -> Any:
    """A second plan's price, on its own meter."""
    meter = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "API calls (pro)",
            "event_name": f"api_call_{uuid.uuid4().hex[:8]}",
            "default_aggregation": {"formula": "sum"},
        }
    )
    return stripe_client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "0.2",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )


@pytest.fixture
def customer(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.customers.create(params={"email": unique_email(), "name": "Ada Lovelace"})


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join()


@pytest.fixture(scope="session")
def webhook_endpoint(stripe_api: str, webhook_receiver: WebhookReceiver) -> Any:
    """Registered once: the bridge keeps endpoints for the session (Tollgate never deletes one)."""
    client = stripe.StripeClient(KEY, base_addresses={"api": stripe_api})
    return client.v1.webhook_endpoints.create(params={"url": webhook_receiver.url, "enabled_events": ["*"]})
