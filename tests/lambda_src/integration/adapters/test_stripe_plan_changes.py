"""Issue 13: the Stripe side of a plan change, StripeBilling on localstripe behind the bridge (gap 14,
localdev/stripe_bridge/subscription_items.py): the new plan's price is added as an item beside the
old one, the old items are dropped once their period was invoiced, a change to a free plan ends the
subscription at the period's end, and the invoice bills each plan's calls at its own price."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
from tollgate.adapters.stripe_account_billing import StripeAccountBilling
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import stripe_client
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.models import Registrant
from tollgate.domain.billing_state import SubscriptionItem, SubscriptionState

from localdev.bootstrap import DEV_CATALOG
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.catalog_setup import CatalogSetup

PRO_CATALOG = replace(DEV_CATALOG, product_name="Tollgate API (test, pro)", meter_event_name="tollgate_test_pro_calls",
                      lookup_key="tollgate_test_pro", unit_amount_decimal=Decimal("0.5"))


@pytest.fixture
def billing(stripe_api) -> StripeBilling:
    return StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api))


@pytest.fixture(scope="module")
def pro_price_id(stripe_api) -> str:
    """A second paid plan's price on its own meter, made as `make stripe-setup --plans` makes it."""
    return CatalogSetup(stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)).ensure(PRO_CATALOG).price_id


@pytest.fixture
def subscribed(billing, price_id) -> tuple[str, str]:
    """(customer, subscription) on the first paid plan's price."""
    customer = billing.create_customer(Registrant("ann@example.com", "Ann", "Lee"), "key-1", f"t-{uuid.uuid4()}")
    return customer, billing.subscribe(customer, price_id, f"t-{uuid.uuid4()}")


def report_calls(client, event_name: str, customer: str, calls: int) -> None:
    client.v1.billing.meter_events.create({"event_name": event_name, "timestamp": int(time.time()),
                                           "identifier": str(uuid.uuid4()),
                                           "payload": {"stripe_customer_id": customer, "value": str(calls)}})


def test_the_subscription_as_stripe_has_it(billing, subscribed, stripe_client, price_id):
    customer, subscription_id = subscribed

    state = billing.subscription(subscription_id)

    stripe_state = stripe_client.v1.subscriptions.retrieve(subscription_id)
    item = stripe_state["items"].data[0]
    assert state == SubscriptionState(subscription_id, customer, "active", (SubscriptionItem(price_id, item.created),),
                                      period_start=item.current_period_start, cancel_at_period_end=False,
                                      created=stripe_state.created)
    assert state.has_price(price_id)


def test_switching_adds_the_new_price_and_keeps_the_old_one(billing, subscribed, price_id, pro_price_id):
    _, subscription_id = subscribed

    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")

    state = billing.subscription(subscription_id)
    assert [item.price_id for item in state.items] == [price_id, pro_price_id]
    assert state.has_price(pro_price_id) and state.status == "active"


def test_switching_again_to_the_same_price_changes_nothing(billing, subscribed, pro_price_id):
    _, subscription_id = subscribed
    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")
    before = billing.subscription(subscription_id)

    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")

    assert billing.subscription(subscription_id) == before


def test_a_price_on_the_meter_of_another_item_is_refused_naming_both(billing, subscribed, stripe_client, price_id):
    _, subscription_id = subscribed
    meter = stripe_client.v1.prices.retrieve(price_id).recurring.meter
    same_meter = stripe_client.v1.prices.create({
        "currency": "usd", "product": stripe_client.v1.prices.retrieve(price_id).product,
        "unit_amount_decimal": "0.3", "recurring": {"interval": "month", "usage_type": "metered", "meter": meter}})

    with pytest.raises(ConfigurationError) as raised:
        billing.switch_price(subscription_id, same_meter.id, f"t-{uuid.uuid4()}")

    assert same_meter.id in str(raised.value) and price_id in str(raised.value)
    assert [item.price_id for item in billing.subscription(subscription_id).items] == [price_id]


def test_dropping_the_old_prices_keeps_only_the_plans_price(billing, subscribed, price_id, pro_price_id):
    _, subscription_id = subscribed
    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")

    assert billing.drop_prices_except(subscription_id, pro_price_id) == (price_id,)

    assert [item.price_id for item in billing.subscription(subscription_id).items] == [pro_price_id]
    assert billing.drop_prices_except(subscription_id, pro_price_id) == ()


def test_a_change_to_a_free_plan_ends_the_subscription_at_the_period_end_and_a_change_back_resumes_it(
        billing, subscribed, price_id):
    _, subscription_id = subscribed

    billing.end_at_period_end(subscription_id)

    ending = billing.subscription(subscription_id)
    assert ending.cancel_at_period_end is True and ending.status == "active"
    billing.switch_price(subscription_id, price_id, f"t-{uuid.uuid4()}")  # back to the plan it is on
    resumed = billing.subscription(subscription_id)
    assert resumed.cancel_at_period_end is False and [item.price_id for item in resumed.items] == [price_id]


def test_switching_to_a_new_price_also_resumes_a_subscription_that_was_ending(billing, subscribed, pro_price_id):
    _, subscription_id = subscribed
    billing.end_at_period_end(subscription_id)

    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")

    assert billing.subscription(subscription_id).cancel_at_period_end is False


def test_the_listing_shows_items_period_and_ending(billing, subscribed, pro_price_id):
    _, subscription_id = subscribed
    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")
    billing.end_at_period_end(subscription_id)

    listed = next(s for s in billing.list_subscriptions(None, 100).subscriptions if s.id == subscription_id)

    assert listed == billing.subscription(subscription_id)
    assert listed.cancel_at_period_end is True and listed.has_price(pro_price_id)


def test_the_invoice_bills_calls_before_the_change_at_the_old_price_and_after_at_the_new(
        billing, subscribed, stripe_client, stripe_api, pro_price_id):
    customer, subscription_id = subscribed
    report_calls(stripe_client, DEV_CATALOG.meter_event_name, customer, 30)  # N on the old plan: 0.1 cent each
    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")
    report_calls(stripe_client, PRO_CATALOG.meter_event_name, customer, 20)  # M on the new plan: 0.5 cent each

    invoice = StripeAccountBilling(lambda: stripe_client).upcoming_invoice(subscription_id)

    assert (invoice.amount_due, invoice.currency) == (3 + 10, "usd")
    assert invoice.period_start == billing.subscription(subscription_id).period_start
