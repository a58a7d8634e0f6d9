"""StripeAccountBilling on localstripe behind the bridge, what is particular to the adapter: the upcoming
invoice's amount and period for a subscription with metered usage (Stripe rates it; the fake holds the
previews a test gives it), and, issue 18, Tollgate's portal configuration refused once someone turned
plan changes on in it. What the AccountBilling port promises is in tests/contract/test_account_billing.py."""

from __future__ import annotations

import time
import uuid

import pytest

from localdev.bootstrap import DEV_CATALOG
from localdev.emulators import STRIPE_TEST_SECRET_KEY, StripeBridge
from ops.catalog_setup import CatalogSetup
from tollgate.adapters.stripe_account_billing import StripeAccountBilling
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import stripe_client
from tollgate.domain.errors import BillingPortalNotSetUp
from tollgate.domain.models import Registrant

RETURN_URL = "http://127.0.0.1:8000/account"
# What an owner may have saved as the Stripe account's default portal in the dashboard: customers may
# switch prices there (https://docs.stripe.com/api/customer_portal/configurations/object).
DASHBOARD_DEFAULT = {
    "invoice_history": {"enabled": True},
    "subscription_update": {"enabled": True, "default_allowed_updates": ["price"], "proration_behavior": "none"},
}


@pytest.fixture
def subscribed(stripe_api, price_id) -> tuple[str, str]:
    billing = StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api))
    customer = billing.create_customer(Registrant("ann@example.com", "Ann", "Lee"), "key-1", f"t-{uuid.uuid4()}")
    return customer, billing.subscribe(customer, price_id, f"t-{uuid.uuid4()}")


@pytest.fixture
def account_billing(stripe_api) -> StripeAccountBilling:
    return StripeAccountBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api))


def test_the_upcoming_invoice_rates_the_usage_so_far_in_the_billing_period(account_billing, subscribed, stripe_client):
    customer, subscription_id = subscribed
    stripe_client.v1.billing.meter_events.create(
        {
            "event_name": DEV_CATALOG.meter_event_name,
            "timestamp": int(time.time()),
            "payload": {"stripe_customer_id": customer, "value": "7"},
        }
    )

    invoice = account_billing.upcoming_invoice(subscription_id)

    item = stripe_client.v1.subscriptions.retrieve(subscription_id)["items"].data[0]  # the period is the item's
    assert (invoice.amount_due, invoice.currency) == (1, "usd")  # 7 calls at 0.1 cent, rounded half up
    assert (invoice.period_start, invoice.period_end) == (item.current_period_start, item.current_period_end)


@pytest.fixture
def stripe_account_without_tollgates_portal(emulators):
    """A Stripe account of its own (a bridge with fresh state in front of the same localstripe) whose
    only portal configuration is the default one its owner saved in the dashboard."""
    with StripeBridge(emulators.localstripe.url) as bridge:
        client = stripe_client(STRIPE_TEST_SECRET_KEY, bridge.api_base)
        default = client.v1.billing_portal.configurations.create({"features": DASHBOARD_DEFAULT})
        assert default.is_default
        yield bridge, client


def test_tollgates_configuration_with_plan_changes_turned_on_is_refused_too(
    subscribed, stripe_account_without_tollgates_portal
):
    customer, _ = subscribed
    bridge, client = stripe_account_without_tollgates_portal
    tollgates, _ = CatalogSetup(client).ensure_portal("Tollgate API")
    client.v1.billing_portal.configurations.update(
        tollgates, {"features": {"subscription_update": {"enabled": True, "default_allowed_updates": ["price"]}}}
    )  # someone turned plan changes on

    with pytest.raises(BillingPortalNotSetUp, match=f"{tollgates} lets customers change their plan"):
        StripeAccountBilling(lambda: client).portal_url(customer, RETURN_URL)
    assert bridge.state.portal.sessions == {}
