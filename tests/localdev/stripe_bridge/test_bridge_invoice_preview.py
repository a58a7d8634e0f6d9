"""Gap 11 (localdev/stripe_bridge/invoice_preview.py): the upcoming invoice rates the meter's usage."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import stripe

from localdev.stripe_bridge.invoice_preview import price_amount


def test_invoice_preview_bills_the_meters_usage_of_the_period(
    stripe_client: stripe.StripeClient, meter: Any, metered_price: Any, customer: Any
):
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    for value in (3, 4):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": meter.event_name,
                "identifier": str(uuid.uuid4()),
                "timestamp": int(time.time()),
                "payload": {"stripe_customer_id": customer.id, "value": str(value)},
            }
        )

    invoice = stripe_client.v1.invoices.create_preview(
        params={"customer": customer.id, "subscription": subscription.id}
    )

    (line,) = invoice.lines.data
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert line.pricing.price_details.price == metered_price.id
    assert line.quantity == 7
    assert line.amount == 4  # 7 x 0.5 cents = 3.5, rounded half up
    assert invoice.amount_due == 4


@pytest.mark.parametrize(
    "price, quantity, amount",
    [
        ({"billing_scheme": "per_unit", "unit_amount_decimal": "0.1", "transform_quantity": None}, 7, 1),
        (
            {
                "billing_scheme": "per_unit",
                "unit_amount_decimal": "100",
                "transform_quantity": {"divide_by": 1000, "round": "up"},
            },
            1001,
            200,
        ),
        (
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [
                    {"up_to": 1000, "unit_amount_decimal": "0", "flat_amount_decimal": None},
                    {"up_to": None, "unit_amount_decimal": "0.2", "flat_amount_decimal": None},
                ],
            },
            1500,
            100,
        ),
        (
            {
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [
                    {"up_to": 10, "unit_amount_decimal": "5", "flat_amount_decimal": "100"},
                    {"up_to": None, "unit_amount_decimal": "1", "flat_amount_decimal": None},
                ],
            },
            20,
            20,
        ),
    ],
    ids=["per-unit", "package", "graduated", "volume"],
)
def test_invoice_preview_prices_each_model_as_stripe_does(price, quantity, amount):
    assert price_amount(price, quantity) == amount
    assert isinstance(Decimal(amount), Decimal)


def report(client: stripe.StripeClient, event_name: str, customer_id: str, value: int) -> None:
    client.v1.billing.meter_events.create(
        params={
            "event_name": event_name,
            "identifier": str(uuid.uuid4()),
            "timestamp": int(time.time()),
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        }
    )


def test_invoice_preview_bills_a_switched_plan_on_both_prices(
    stripe_client: stripe.StripeClient, meter: Any, metered_price: Any, other_price: Any, customer: Any
):
    """A plan change adds the new price as an item and keeps the old one: N calls before on the old
    price's line, M after on the new one's (gap 14, subscription_items.py)."""
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    report(stripe_client, meter.event_name, customer.id, 30)  # N
    stripe_client.v1.subscriptions.update(
        subscription.id, params={"items": [{"price": other_price.id}], "proration_behavior": "none"}
    )
    other_meter = stripe_client.v1.billing.meters.retrieve(other_price.recurring.meter)
    report(stripe_client, other_meter.event_name, customer.id, 20)  # M

    invoice = stripe_client.v1.invoices.create_preview(params={"subscription": subscription.id})

    old_line, new_line = invoice.lines.data
    assert (old_line.pricing.price_details.price, old_line.quantity, old_line.amount) == (metered_price.id, 30, 15)
    assert (new_line.pricing.price_details.price, new_line.quantity, new_line.amount) == (other_price.id, 20, 4)
    assert invoice.amount_due == 19


def test_invoice_preview_bills_an_added_item_from_its_creation_only(
    stripe_client: stripe.StripeClient, other_price: Any, metered_price: Any, customer: Any, stripe_bridge
):
    """Stripe: an item added mid-cycle bills its meter's usage from then on; before it, nothing."""
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )
    updated = stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"price": other_price.id}]})
    added = updated["items"].data[1]
    # The item is made younger than the event below (seconds are the clock's grain here).
    stripe_bridge.state.subscription_items.by_subscription[subscription.id][1]["created"] = added.created + 60
    report(
        stripe_client, stripe_client.v1.billing.meters.retrieve(other_price.recurring.meter).event_name, customer.id, 20
    )

    invoice = stripe_client.v1.invoices.create_preview(params={"subscription": subscription.id})

    new_line = invoice.lines.data[1]
    assert (new_line.quantity, new_line.period.start) == (0, added.created + 60)
    assert invoice.lines.data[0].period.start == updated["items"].data[0].current_period_start
