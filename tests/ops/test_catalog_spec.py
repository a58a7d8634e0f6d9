"""ops/catalog_spec.py, built from `make stripe-setup` options as the command builds it: the Stripe
price parameters each pricing model becomes, and every inconsistent setting refused with the
option named. (Malformed option values: test_stripe_setup.py; the Stripe side: test_catalog_setup.py.)"""

from decimal import Decimal

import pytest

from ops.catalog_spec import CatalogSpec, SetupError, Tier
from ops.stripe_setup import build_parser, catalog_spec

BASE = ["--product-name", "Acme API", "--meter-event-name", "acme_api_calls"]


def spec_from(argv):
    return catalog_spec(build_parser().parse_args(BASE + argv))


def test_graduated_tiers_from_the_issue_become_stripe_tier_params():
    spec = spec_from(
        [
            "--pricing-model",
            "graduated",
            "--tier",
            "up_to=1000,unit_amount_decimal=0.5",
            "--tier",
            "up_to=inf,unit_amount_decimal=0.2",
        ]
    )
    params = spec.price_params("prod_1", "mtr_1")
    assert params["billing_scheme"] == "tiered"
    assert params["tiers_mode"] == "graduated"
    assert params["tiers"] == [
        {"up_to": 1000, "unit_amount_decimal": "0.5"},
        {"up_to": "inf", "unit_amount_decimal": "0.2"},
    ]
    assert params["recurring"] == {"interval": "month", "usage_type": "metered", "meter": "mtr_1"}


def test_package_model_divides_usage_by_the_package_size_rounding_up():
    params = spec_from(["--pricing-model", "package", "--unit-amount", "100", "--package-size", "1000"]).price_params(
        "prod_1", "mtr_1"
    )
    assert params["transform_quantity"] == {"divide_by": 1000, "round": "up"}
    assert params["unit_amount_decimal"] == "100"


def test_per_unit_is_the_default_model_billed_monthly_in_usd():
    params = spec_from(["--unit-amount", "0.25"]).price_params("prod_1", "mtr_1")
    assert params["billing_scheme"] == "per_unit"
    assert params["unit_amount_decimal"] == "0.25"
    assert params["currency"] == "usd"
    assert params["recurring"]["interval"] == "month"


def test_currency_is_case_folded():
    assert spec_from(["--unit-amount", "1", "--currency", "EUR"]).currency == "eur"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--unit-amount is required for the per-unit model"),
        (
            ["--pricing-model", "package", "--unit-amount", "1"],
            "--package-size (2 or more units per package) is required",
        ),
        (["--unit-amount", "1", "--package-size", "10"], "--package-size is only for the package model"),
        (["--unit-amount", "1", "--tier", "up_to=inf,unit_amount_decimal=1"], "--tier is for the graduated and volume"),
        (["--pricing-model", "volume"], "needs at least one --tier"),
        (["--pricing-model", "volume", "--unit-amount", "1"], "takes --tier options, not --unit-amount"),
        (
            ["--pricing-model", "volume", "--tier", "up_to=10,unit_amount_decimal=1"],
            "the last --tier must have up_to=inf",
        ),
        (
            [
                "--pricing-model",
                "graduated",
                "--tier",
                "up_to=100,unit_amount_decimal=1",
                "--tier",
                "up_to=100,unit_amount_decimal=1",
                "--tier",
                "up_to=inf,unit_amount_decimal=1",
            ],
            "must increase strictly",
        ),
        (
            [
                "--pricing-model",
                "graduated",
                "--tier",
                "up_to=inf,unit_amount_decimal=1",
                "--tier",
                "up_to=inf,unit_amount_decimal=1",
            ],
            "only the last may be inf",
        ),
        (["--unit-amount", "1", "--currency", "dollars"], "--currency must be a three-letter ISO code"),
        (["--unit-amount", "1", "--lookup-key", "has space"], "--lookup-key must be"),
    ],
)
def test_inconsistent_arguments_are_rejected_with_the_argument_named(argv, message):
    with pytest.raises(SetupError) as error:
        spec_from(argv)
    assert message in str(error.value)


def test_bad_event_name_and_empty_product_are_rejected():
    with pytest.raises(SetupError, match="--meter-event-name"):
        CatalogSpec(
            product_name="Acme", meter_event_name="has space", pricing_model="per-unit", unit_amount_decimal=Decimal(1)
        )
    with pytest.raises(SetupError, match="--product-name"):
        CatalogSpec(
            product_name=" ", meter_event_name="calls", pricing_model="per-unit", unit_amount_decimal=Decimal(1)
        )


def test_tier_accepts_flat_amounts():
    assert spec_from(["--pricing-model", "volume", "--tier", "up_to=inf,flat_amount_decimal=500"]).tiers == (
        Tier(up_to=None, flat_amount_decimal=Decimal(500)),
    )
