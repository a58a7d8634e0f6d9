"""StripeUsageMeter on the Stripe bridge, what is particular to the adapter: the meter (event name and
payload keys) is found from the price, and a price billed through no meter is a configuration error
naming it. What the UsageMeter port promises is in tests/contract/test_usage_meter.py."""

from __future__ import annotations

import pytest
import stripe

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from tollgate.adapters.stripe_client import StripeClientForSecret
from tollgate.adapters.stripe_usage_meter import StripeUsageMeter
from tollgate.domain.errors import ConfigurationError


def test_the_meter_is_found_from_the_price(stripe_api: str, stripe_client: stripe.StripeClient, price_id: str):
    meter = StripeUsageMeter(StripeClientForSecret(lambda: STRIPE_TEST_SECRET_KEY, stripe_api), price_id)

    spec = meter.spec("")  # no price named: the default plan's

    stripe_meter = stripe_client.v1.billing.meters.retrieve(stripe_client.v1.prices.retrieve(price_id).recurring.meter)
    assert (spec.meter_id, spec.event_name) == (stripe_meter.id, stripe_meter.event_name)
    assert (spec.customer_key, spec.value_key) == (
        stripe_meter.customer_mapping.event_payload_key,
        stripe_meter.value_settings.event_payload_key,
    )


def test_a_price_without_a_meter_is_a_configuration_error_naming_it(
    stripe_api: str, stripe_client: stripe.StripeClient
):
    product = stripe_client.v1.products.create(params={"name": "Licensed"})
    price = stripe_client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 100, "recurring": {"interval": "month"}}
    )
    meter = StripeUsageMeter(StripeClientForSecret(lambda: STRIPE_TEST_SECRET_KEY, stripe_api), None)

    with pytest.raises(ConfigurationError, match=f"stripe_price_id {price.id} is not billed through a Stripe billing"):
        meter.spec(price.id)
