"""Gap 2 (localdev/stripe_bridge/prices.py): prices, backed by localstripe plans of the same id."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import stripe

from localdev.emulators import StripeBridge


def test_prices_metered_price_needs_a_meter(stripe_client: stripe.StripeClient, product: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product.id,
                "unit_amount": 1,
                "recurring": {"interval": "month", "usage_type": "metered"},
            }
        )
    assert raised.value.param == "recurring[meter]"


def test_prices_metered_price_is_backed_by_a_localstripe_plan_with_the_same_id(
    stripe_client: stripe.StripeClient, metered_price: Any, meter: Any, product: Any
):
    assert metered_price.id.startswith("price_")
    assert metered_price.recurring.usage_type == "metered"
    assert metered_price.recurring.meter == meter.id
    assert metered_price.unit_amount_decimal == Decimal("0.5")
    assert metered_price.type == "recurring"

    plan = stripe_client.v1.plans.retrieve(metered_price.id)
    assert plan.product == product.id and plan.usage_type == "metered"


@pytest.mark.parametrize(
    "pricing",
    [
        pytest.param(
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.2"}],
            },
            id="graduated",
        ),
        pytest.param(
            {
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10000, "unit_amount": 1, "flat_amount": 500}, {"up_to": "inf", "unit_amount": 0}],
            },
            id="volume",
        ),
        pytest.param({"unit_amount": 100, "transform_quantity": {"divide_by": 1000, "round": "up"}}, id="package"),
        pytest.param({"unit_amount": 2}, id="per_unit"),
    ],
)
def test_prices_every_pricing_model_round_trips(
    stripe_client: stripe.StripeClient, product: Any, meter: Any, pricing: dict[str, Any]
):
    """Listed by lookup key (how `make stripe-setup` finds its price) exactly as created."""
    lookup_key = f"model-{uuid.uuid4().hex[:8]}"
    created = stripe_client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "metadata": {"model": "x"},
            "lookup_key": lookup_key,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            **pricing,
        }
    )
    (fetched,) = stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key]}).data

    assert fetched.to_dict() == created.to_dict()
    assert fetched.billing_scheme == pricing.get("billing_scheme", "per_unit")
    if "tiers" in pricing:
        assert fetched.tiers_mode == pricing["tiers_mode"]
        assert fetched.tiers[-1].up_to is None
    if "transform_quantity" in pricing:
        assert fetched.transform_quantity.divide_by == 1000 and fetched.transform_quantity.round == "up"


def test_prices_list_filters_by_lookup_keys_and_active(stripe_client: stripe.StripeClient, product: Any, meter: Any):
    lookup_key, retired_key = f"tollgate-{uuid.uuid4().hex[:8]}", f"retired-{uuid.uuid4().hex[:8]}"
    recurring = {"interval": "month", "usage_type": "metered", "meter": meter.id}
    metered = stripe_client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 1,
            "lookup_key": lookup_key,
            "recurring": recurring,
        }
    )
    retired = stripe_client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 2,
            "lookup_key": retired_key,
            "active": False,
            "recurring": recurring,
        }
    )

    both = stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key, retired_key]})
    assert [p.id for p in both.data] == [retired.id, metered.id]  # newest first, as Stripe lists
    active = stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key, retired_key], "active": True})
    assert [p.id for p in active.data] == [metered.id]


def test_prices_lookup_key_is_unique_unless_transferred(
    stripe_client: stripe.StripeClient, stripe_bridge: StripeBridge, product: Any
):
    lookup_key = f"tollgate-{uuid.uuid4().hex[:8]}"
    params = {"currency": "usd", "product": product.id, "unit_amount": 5, "lookup_key": lookup_key}
    first = stripe_client.v1.prices.create(params=params)

    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        stripe_client.v1.prices.create(params=params)
    second = stripe_client.v1.prices.create(params={**params, "transfer_lookup_key": True})

    assert stripe_bridge.state.prices.by_id[first.id]["lookup_key"] is None
    assert [p.id for p in stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key]}).data] == [second.id]


@pytest.mark.parametrize(
    ("reference", "param"),
    [
        pytest.param({"product": "prod_nope"}, "product", id="product"),
        pytest.param(
            {"recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_nope"}},
            "recurring[meter]",
            id="meter",
        ),
    ],
)
def test_prices_unknown_product_or_meter_is_resource_missing(
    stripe_client: stripe.StripeClient, product: Any, reference: dict[str, Any], param: str
):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.prices.create(params={"currency": "usd", "unit_amount": 1, "product": product.id, **reference})
    assert (raised.value.http_status, raised.value.code, raised.value.param) == (400, "resource_missing", param)


def test_prices_retrieve_gives_the_price_and_its_meter(stripe_client: stripe.StripeClient, metered_price: Any):
    assert stripe_client.v1.prices.retrieve(metered_price.id).to_dict() == metered_price.to_dict()
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.prices.retrieve("price_missing")
    assert raised.value.http_status == 404 and raised.value.code == "resource_missing"
