"""Issue 13: the Stripe side of a plan change, StripeBilling and StripeAccountBilling on localstripe
behind the bridge (gap 14, localdev/stripe_bridge/subscription_items.py), what is particular to the
adapters: a subscription read field by field from Stripe's object (the billing period on the items,
API 2025-03-31), and the invoice billing each plan's calls at its own price once the new price was
added beside the old one. What the Billing port promises of a plan change is in
tests/contract/test_billing.py."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest

from localdev.bootstrap import DEV_CATALOG
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.catalog_setup import CatalogSetup
from tollgate.adapters.stripe_account_billing import StripeAccountBilling
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import stripe_client
from tollgate.domain.billing_state import SubscriptionItem, SubscriptionState
from tollgate.domain.models import Registrant

PRO_CATALOG = replace(
    DEV_CATALOG,
    product_name="Tollgate API (test, pro)",
    meter_event_name="tollgate_test_pro_calls",
    lookup_key="tollgate_test_pro",
    unit_amount_decimal=Decimal("0.5"),
)


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
    client.v1.billing.meter_events.create(
        {
            "event_name": event_name,
            "timestamp": int(time.time()),
            "identifier": str(uuid.uuid4()),
            "payload": {"stripe_customer_id": customer, "value": str(calls)},
        }
    )


def test_the_subscription_as_stripe_has_it(billing, subscribed, stripe_client, price_id):
    customer, subscription_id = subscribed

    state = billing.subscription(subscription_id)

    stripe_state = stripe_client.v1.subscriptions.retrieve(subscription_id)
    item = stripe_state["items"].data[0]
    assert state == SubscriptionState(
        subscription_id,
        customer,
        "active",
        (SubscriptionItem(price_id, item.created),),
        period_start=item.current_period_start,
        cancel_at_period_end=False,
        created=stripe_state.created,
        period_end=item.current_period_end,
    )
    assert state.has_price(price_id)


def test_the_invoice_bills_calls_before_the_change_at_the_old_price_and_after_at_the_new(
    billing, subscribed, stripe_client, stripe_api, pro_price_id
):
    customer, subscription_id = subscribed
    report_calls(stripe_client, DEV_CATALOG.meter_event_name, customer, 30)  # N on the old plan: 0.1 cent each
    billing.switch_price(subscription_id, pro_price_id, f"t-{uuid.uuid4()}")
    report_calls(stripe_client, PRO_CATALOG.meter_event_name, customer, 20)  # M on the new plan: 0.5 cent each

    invoice = StripeAccountBilling(lambda: stripe_client).upcoming_invoice(subscription_id)

    assert (invoice.amount_due, invoice.currency) == (3 + 10, "usd")
    assert invoice.period_start == billing.subscription(subscription_id).period_start
