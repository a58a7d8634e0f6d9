"""The `plans` setting: every wrong plan fails synth with a message naming the plan and the field."""

import json

import pytest
from infra_synth import REPO_ROOT

from infra.plan_settings import PLACEHOLDER_STRIPE_PRICE_ID, runtime_catalog
from infra.settings import Settings, SettingsError, load_cdk_json_context

PRO = {
    "id": "pro",
    "name": "Pro",
    "description": "For production",
    "price_text": "$0.0005 per call",
    "throttle_rate_limit": 50,
    "throttle_burst_limit": 100,
    "quota_limit": 1_000_000,
    "quota_period": "MONTH",
    "stripe_price_id": "price_pro",
    "require_payment_method": True,
}
FREE = {
    "id": "free",
    "name": "Free",
    "description": "",
    "price_text": "Free",
    "throttle_rate_limit": 1,
    "throttle_burst_limit": 2,
    "quota_limit": 100,
    "quota_period": "day",
    "stripe_price_id": "",
    "require_payment_method": False,
}


@pytest.fixture
def context():
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


def plans_of(context, *plans):
    return Settings.from_context({**context, "plans": list(plans)}).plans


def test_each_plan_is_read_with_its_limits_price_and_card_rule_the_first_being_the_default(context):
    pro, free = plans_of(context, PRO, FREE)

    assert (pro.id, pro.throttle_rate_limit, pro.quota_limit, pro.stripe_price_id, pro.require_payment_method) == (
        "pro",
        50.0,
        1_000_000,
        "price_pro",
        True,
    )
    assert free.is_free and free.stripe_price_id is None and free.quota_period == "DAY"
    assert pro.page_view() == {
        "id": "pro",
        "name": "Pro",
        "description": "For production",
        "priceText": "$0.0005 per call",
        "free": False,
        "requiresPaymentMethod": True,
        "rateLimit": 50.0,
        "burstLimit": 100,
        "quotaLimit": 1_000_000,
        "quotaPeriod": "MONTH",
    }


def test_a_paid_plan_may_set_a_default_spend_cap_and_a_maximum_which_the_functions_read(context):
    (pro,) = plans_of(context, {**PRO, "spend_cap_default": "20", "spend_cap_max": "50.00"})
    (plan,) = runtime_catalog((pro,), {"pro": "usage-plan-pro"}, free_pool_size=0).plans

    assert (plan.spend_cap_default, plan.spend_cap_max) == ("20", "50.00")


def test_free_plans_share_free_pool_size_keys_and_paid_plans_have_keys_of_their_own(context):
    pro, free = plans_of(context, PRO, FREE)

    catalog = runtime_catalog((pro, free), {"pro": "usage-plan-pro", "free": "usage-plan-free"}, free_pool_size=7)

    assert [(plan.id, plan.pool_size, plan.pooled) for plan in catalog] == [("pro", 0, False), ("free", 7, True)]


def test_a_free_plan_may_say_free_and_name_its_quota(context):
    (free,) = plans_of(context, {**FREE, "price_text": "Free up to 1,000 calls a month, $0 per call"})

    assert free.is_free


def test_plans_given_on_the_command_line_are_json(context):
    (plan,) = Settings.from_context({**context, "plans": json.dumps([PRO])}).plans

    assert plan.id == "pro"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Pro!"}, "item 1 (id 'Pro!') field 'id' must be 1-32 lowercase letters"),
        ({"name": ""}, "item 1 (id 'pro') field 'name' must be text of 1 to 40 characters"),
        ({"price_text": "x" * 81}, "(id 'pro') field 'price_text' must be text of 1 to 80 characters"),
        ({"throttle_rate_limit": 0}, "(id 'pro') field 'throttle_rate_limit' must be a number greater than 0; got 0"),
        (
            {"throttle_burst_limit": 1.5},
            "(id 'pro') field 'throttle_burst_limit' must be a whole number greater than 0",
        ),
        ({"quota_limit": True}, "(id 'pro') field 'quota_limit' must be a whole number greater than 0; got True"),
        ({"quota_period": "YEAR"}, "(id 'pro') field 'quota_period' must be one of DAY, WEEK, MONTH; got 'YEAR'"),
        ({"stripe_price_id": "plan_1"}, "(id 'pro') field 'stripe_price_id' must be a Stripe price id starting with"),
        ({"require_payment_method": "yes"}, "(id 'pro') field 'require_payment_method' must be true or false"),
        (
            {"stripe_price_id": "", "require_payment_method": True},
            "(id 'pro') field 'require_payment_method' must be false for a free plan",
        ),
        ({"quota": 5}, "(id 'pro'): unknown field 'quota'; a plan has id, name"),
        (
            {"spend_cap_max": "-5"},
            "(id 'pro') field 'spend_cap_max' must be an amount greater than 0 in the price's currency",
        ),
        ({"spend_cap_default": 50}, "(id 'pro') field 'spend_cap_default' must be an amount greater than 0"),
        (
            {"spend_cap_default": "60", "spend_cap_max": "50"},
            "(id 'pro') field 'spend_cap_default' must be at most spend_cap_max (50); got '60'",
        ),
        (
            {"stripe_price_id": "", "require_payment_method": False, "price_text": "Free", "spend_cap_max": "5"},
            "(id 'pro') field 'spend_cap_max' must be empty on a free plan",
        ),
        (
            {"stripe_price_id": "", "require_payment_method": False, "price_text": "Try it: $1 per 1,000 calls"},
            "plan 'pro' is free (no stripe_price_id: nothing is billed) but its price_text 'Try it: $1 per 1,000 calls' "
            "says '$1 per 1,000 calls'",
        ),
    ],
)
def test_a_wrong_plan_names_the_plan_and_the_field(context, change, message):
    with pytest.raises(SettingsError) as raised:
        plans_of(context, {**PRO, **change})

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        ([PRO, {**FREE, "id": "pro"}], "two plans have id 'pro'"),
        ([PRO, {**FREE, "stripe_price_id": "price_pro"}], "two plans have stripe_price_id 'price_pro'"),
        ([PRO] * 11, "must be a list of 1 to 10 plan objects"),
        (["pro"], "item 1 must be an object"),
    ],
)
def test_a_wrong_plan_list_says_what_is_wrong(context, plans, message):
    with pytest.raises(SettingsError) as raised:
        plans_of(context, *plans)

    assert message in str(raised.value)


def test_plans_and_the_flat_plan_settings_together_are_refused_naming_the_flat_ones(context):
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({**context, "quota_limit": 5, "stripe_price_id": PLACEHOLDER_STRIPE_PRICE_ID})

    assert "'plans' is set, so 'quota_limit', 'stripe_price_id' would not be read: remove them" in str(raised.value)
