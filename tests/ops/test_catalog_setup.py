"""ops/catalog_setup.py against Stripe as emulated by localstripe + the bridge: each object found
again and brought in line, never created twice. (The whole command: test_stripe_setup.py.)"""

from __future__ import annotations

from decimal import Decimal

import stripe

from ops.catalog_setup import CatalogSetup, Change
from ops.catalog_spec import CatalogSpec
from tollgate import contract


def spec(names: dict[str, str], unit_amount: int = 1) -> CatalogSpec:
    return CatalogSpec(
        product_name=names["product"],
        meter_event_name=names["event"],
        lookup_key=names["lookup"],
        pricing_model="per-unit",
        unit_amount_decimal=Decimal(unit_amount),
    )


def test_a_changed_pricing_model_creates_a_new_price_that_takes_the_lookup_key_over(names, stripe_client):
    setup = CatalogSetup(stripe_client)
    first = setup.ensure(spec(names, unit_amount=1))
    second = setup.ensure(spec(names, unit_amount=2))

    assert second.changes["price"] is Change.REPLACED
    assert (second.product_id, second.meter_id) == (first.product_id, first.meter_id)
    assert second.price_id != first.price_id
    assert [p.id for p in stripe_client.v1.prices.list({"lookup_keys": [names["lookup"]]}).data] == [second.price_id]


def test_a_deactivated_or_renamed_meter_is_reactivated_and_renamed_not_duplicated(names, stripe_client):
    setup = CatalogSetup(stripe_client)
    meter_id = setup.ensure(spec(names)).meter_id
    stripe_client.v1.billing.meters.deactivate(meter_id)
    stripe_client.v1.billing.meters.update(meter_id, {"display_name": "renamed in the dashboard"})

    again = setup.ensure(spec(names))

    assert again.meter_id == meter_id and again.changes["meter"] is Change.UPDATED
    meter = stripe_client.v1.billing.meters.retrieve(meter_id)
    assert meter.status == "active" and meter.display_name == spec(names).meter_display_name


def test_a_webhook_endpoint_with_other_events_is_given_the_contracts_events(names, stripe_client: stripe.StripeClient):
    stale = stripe_client.v1.webhook_endpoints.create({"url": names["webhook"], "enabled_events": ["invoice.paid"]})

    endpoint = CatalogSetup(stripe_client).ensure_webhook(names["webhook"])

    assert (endpoint.id, endpoint.change, endpoint.signing_secret) == (stale.id, Change.UPDATED, None)
    listed = [e for e in stripe_client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter() if e.id == stale.id]
    assert sorted(listed[0].enabled_events) == sorted(contract.STRIPE_WEBHOOK_EVENTS)


def test_the_customer_portal_configuration_is_made_once_and_its_features_brought_back(names, stripe_client):
    """One per Stripe account (the account page's "Manage billing"), found by its metadata."""
    setup = CatalogSetup(stripe_client)
    portal_id = setup.ensure(spec(names)).portal_configuration_id
    stripe_client.v1.billing_portal.configurations.update(
        portal_id, {"features": {"invoice_history": {"enabled": False}, "subscription_cancel": {"mode": "immediately"}}}
    )

    again = setup.ensure(spec(names))
    assert (again.portal_configuration_id, again.changes["portal"]) == (portal_id, Change.UPDATED)
    assert setup.ensure(spec(names)).changes["portal"] is Change.UNCHANGED
    ours = [
        c
        for c in stripe_client.v1.billing_portal.configurations.list({"limit": 100}).data
        if c.metadata.to_dict() == contract.STRIPE_PORTAL_CONFIGURATION_METADATA
    ]
    assert [c.id for c in ours] == [portal_id]
    features = ours[0].features
    assert features.invoice_history.enabled and features.payment_method_update.enabled
    assert (features.subscription_cancel.enabled, features.subscription_cancel.mode) == (True, "at_period_end")
    assert not features.customer_update.enabled and not features.subscription_update.enabled
