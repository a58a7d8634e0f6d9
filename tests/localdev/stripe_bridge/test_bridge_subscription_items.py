"""Gap 14 (localdev/stripe_bridge/subscription_items.py): more than one item per subscription,
added and removed with a subscription update, item billing periods, cancel_at_period_end, and
customer.subscription.updated with previous_attributes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver


@pytest.fixture
def subscription(stripe_client: stripe.StripeClient, customer: Any, metered_price: Any) -> Any:
    return stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": metered_price.id}]}
    )


def prices(subscription: Any) -> list[str]:
    return [item.price.id for item in subscription["items"].data]


def test_subscription_items_an_added_price_is_a_new_item_beside_the_old_one(
    stripe_client: stripe.StripeClient, subscription: Any, metered_price: Any, other_price: Any
):
    updated = stripe_client.v1.subscriptions.update(
        subscription.id, params={"items": [{"price": other_price.id}], "proration_behavior": "none"}
    )

    assert prices(updated) == [metered_price.id, other_price.id]
    retrieved = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert retrieved.to_dict() == updated.to_dict()
    (listed,) = [s for s in stripe_client.v1.subscriptions.list(params={"customer": subscription.customer}).data]
    assert prices(listed) == prices(updated)
    old, new = updated["items"].data
    assert new.id.startswith("si_") and new.id != old.id and new.created >= old.created
    assert new.subscription == subscription.id and new.price.recurring.meter == other_price.recurring.meter


def test_subscription_items_carry_the_billing_period_the_subscription_no_longer_has(
    stripe_client: stripe.StripeClient, subscription: Any, other_price: Any
):
    """API 2025-03-31 moved current_period_start/end from the subscription to its items."""
    updated = stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"price": other_price.id}]})

    periods = {(item.current_period_start, item.current_period_end) for item in updated["items"].data}
    (period,) = periods  # classic billing mode: every item shares the subscription's cycle
    assert period[0] <= updated["items"].data[0].created < period[1]
    assert "current_period_start" not in updated and "current_period_end" not in updated


def test_subscription_items_a_deleted_item_is_removed(
    stripe_client: stripe.StripeClient, subscription: Any, other_price: Any
):
    added = stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"price": other_price.id}]})
    old_item = added["items"].data[0]

    updated = stripe_client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": old_item.id, "deleted": True}], "proration_behavior": "none"}
    )

    assert prices(updated) == [other_price.id]
    assert prices(stripe_client.v1.subscriptions.retrieve(subscription.id)) == [other_price.id]


@pytest.mark.parametrize(
    "items, param, message",
    [
        (lambda sub, price: [{"price": sub["items"].data[0].price.id}], "items[0][price]", "same price"),
        (lambda sub, price: [{"id": "si_nope", "deleted": True}], "items[0][id]", "No such subscription item"),
        (lambda sub, price: [{"id": sub["items"].data[0].id, "deleted": True}], "items", "at least one item"),
        (lambda sub, price: [{"price": "price_nope"}], "items[0][price]", "No such price"),
    ],
    ids=["same-price-twice", "unknown-item", "last-item", "unknown-price"],
)
def test_subscription_items_refuses_what_stripe_refuses(
    stripe_client: stripe.StripeClient, subscription: Any, other_price: Any, items, param, message
):
    with pytest.raises(stripe.InvalidRequestError, match=message) as raised:
        stripe_client.v1.subscriptions.update(subscription.id, params={"items": items(subscription, other_price)})

    assert raised.value.param == param
    assert len(stripe_client.v1.subscriptions.retrieve(subscription.id)["items"].data) == 1


def test_subscription_items_cancel_at_period_end_is_kept_and_shown(
    stripe_client: stripe.StripeClient, subscription: Any
):
    assert subscription.cancel_at_period_end is False

    ending = stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})

    assert ending.cancel_at_period_end is True and ending.status == "active"
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).cancel_at_period_end is True
    resumed = stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": False})
    assert resumed.cancel_at_period_end is False


def test_events_an_update_sends_subscription_updated_with_previous_attributes(
    stripe_client: stripe.StripeClient,
    subscription: Any,
    metered_price: Any,
    other_price: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    seen = len(webhook_receiver.received)
    stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"price": other_price.id}]})
    stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})

    added = webhook_receiver.wait_for(
        "customer.subscription.updated",
        subscription.id,
        after=seen,
        where=lambda s: len(s["items"]["data"]) == 2 and not s["cancel_at_period_end"],
    )
    event = added.verified(webhook_endpoint.secret)
    assert [item["price"]["id"] for item in event.data.previous_attributes["items"]["data"]] == [metered_price.id]
    assert [item["price"]["id"] for item in event.data.object["items"]["data"]] == [metered_price.id, other_price.id]
    ending = webhook_receiver.wait_for(
        "customer.subscription.updated", subscription.id, after=seen, where=lambda s: s["cancel_at_period_end"]
    ).event
    assert ending["data"]["previous_attributes"] == {"cancel_at_period_end": False}


def test_events_an_update_that_changes_nothing_sends_no_event(
    stripe_client: stripe.StripeClient, subscription: Any, webhook_endpoint: Any, webhook_receiver: WebhookReceiver
):
    seen = len(webhook_receiver.received)

    stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": False})
    stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})  # the control

    webhook_receiver.wait_for(
        "customer.subscription.updated", subscription.id, after=seen, where=lambda s: s["cancel_at_period_end"]
    )
    updates = [
        w
        for w in webhook_receiver.received[seen:]
        if w.event["type"] == "customer.subscription.updated" and w.event["data"]["object"]["id"] == subscription.id
    ]
    assert len(updates) == 1
