"""A prepaid plan in `plans` (infra/prepaid_settings.py): read into exact micro-unit amounts, carried to the
functions and the pages, and every wrong field refused at synth naming the plan and the field."""

import pytest
from infra_synth import REPO_ROOT

from infra.plan_settings import runtime_catalog
from infra.settings import Settings, SettingsError, load_cdk_json_context
from tollgate.plans import CreditPack, PlanCatalog, PrepaidTerms

PREPAID = {
    "id": "prepaid",
    "name": "Prepaid",
    "description": "",
    "price_text": "$0.001 per call from credit",
    "throttle_rate_limit": 5,
    "throttle_burst_limit": 10,
    "quota_limit": 100_000,
    "quota_period": "MONTH",
    "stripe_price_id": "",
    "require_payment_method": False,
    "billing": "prepaid",
    "unit_price": "0.001",
    "currency": "usd",
    "credit_packs": [
        {"id": "ten", "credit": "10.00", "price": "10.00"},
        {"id": "fifty", "credit": "55", "price": "50"},
    ],
}


@pytest.fixture
def context():
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


def prepaid_plan(context, **changes):
    (plan,) = Settings.from_context({**context, "plans": [{**PREPAID, **changes}]}).plans
    return plan


def test_a_prepaid_plan_is_read_to_exact_amounts_and_reaches_the_functions_and_the_page(context):
    plan = prepaid_plan(context)
    terms = PrepaidTerms(1_000, "usd", (CreditPack("ten", 10_000_000, 1_000), CreditPack("fifty", 55_000_000, 5_000)))
    assert plan.prepaid == terms and not plan.is_free
    catalog = runtime_catalog((plan,), {"prepaid": "usage-plan-1"}, free_pool_size=100)
    read = PlanCatalog.from_json(catalog.to_json()).get("prepaid")
    assert read.prepaid == terms and not read.pooled  # not free: its accounts keep keys of their own
    assert plan.page_view()["prepaid"] == {
        "unitPrice": 1_000,
        "currency": "usd",
        "packs": [
            {"id": "ten", "credit": 10_000_000, "price": 1_000},
            {"id": "fifty", "credit": 55_000_000, "price": 5_000},
        ],
    }


def test_a_metered_plan_has_no_prepaid_terms(context):
    metered = {
        key: value for key, value in PREPAID.items() if key not in ("billing", "unit_price", "currency", "credit_packs")
    } | {"price_text": "Free"}
    (plan,) = Settings.from_context({**context, "plans": [metered]}).plans
    assert plan.prepaid is None and plan.is_free


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"billing": "postpaid"}, "billing", "one of metered, prepaid"),
        ({"stripe_price_id": "price_abc"}, "stripe_price_id", "empty for a prepaid plan"),
        ({"require_payment_method": True}, "require_payment_method", "false for a prepaid plan"),
        ({"unit_price": "0.0000001"}, "unit_price", "at most 6 decimal places"),
        ({"unit_price": "0"}, "unit_price", "more than 0"),
        ({"currency": "USD"}, "currency", "lowercase"),
        ({"credit_packs": []}, "credit_packs", "1 to 5 packs"),
        ({"credit_packs": [{"id": "ten", "credit": "10", "price": "9.999"}]}, "credit_packs", "whole cents"),
        ({"credit_packs": [{"id": "ten", "credit": "10", "price": "10"}] * 2}, "credit_packs", "distinct ids"),
        ({"credit_packs": [{"id": "ten", "credit": "10"}]}, "credit_packs", "1 to 5 packs"),
    ],
)
def test_a_wrong_prepaid_field_is_refused_naming_the_plan_and_the_field(context, changes, field, says):
    with pytest.raises(SettingsError, match=rf"\(id 'prepaid'\) field '{field}' must be .*{says}"):
        prepaid_plan(context, **changes)


def test_prepaid_fields_on_a_metered_plan_are_refused(context):
    with pytest.raises(SettingsError, match=r"field 'unit_price' must be set only with \"billing\": \"prepaid\""):
        prepaid_plan(context, billing="metered")
