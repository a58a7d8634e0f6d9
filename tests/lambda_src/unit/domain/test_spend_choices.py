"""The account page's alerts and cap (tollgate.domain.spend_choices): what is accepted, and every
refusal naming the field and what to send instead."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.evidence import UnitPrice
from tollgate.domain.spend_choices import parse_spend_settings
from tollgate.domain.spend_control import SpendSettings
from tollgate.plans import PlanCatalog

FREE, PAID = TEST_PLANS.get("free"), TEST_PLANS.get("standard")
PER_CALL = UnitPrice("0.1", "usd")
CAPPED = replace(PAID, spend_cap_default="20", spend_cap_max="50")


def parse(body: dict, plan=PAID, price: UnitPrice | None = PER_CALL) -> SpendSettings:
    return parse_spend_settings(json.dumps(body), plan, price)


def problems(body: dict, plan=PAID, price: UnitPrice | None = PER_CALL) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        parse(body, plan, price)
    return refused.value.fields


def test_a_paid_customer_chooses_percentages_amounts_and_a_cap() -> None:
    chosen = parse({"quotaPercents": [100, 50, 50], "amounts": ["10", 2.5], "cap": "25.50"})
    assert chosen == SpendSettings((50, 100), (Decimal("2.5"), Decimal("10")), Decimal("25.50"), False)


def test_null_percentages_mean_the_plans_default_and_an_empty_list_none() -> None:
    assert parse({}, FREE, None).quota_percents is None
    assert parse({"quotaPercents": []}, FREE, None).quota_percents == ()


@pytest.mark.parametrize("percents", [[0], [101], [50.5], ["80"], [True], [1, 2, 3, 4, 5, 6], 80])
def test_percentages_must_be_whole_numbers_from_1_to_100(percents) -> None:
    assert "whole numbers from 1 to 100" in problems({"quotaPercents": percents}, FREE, None)["quotaPercents"]


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.234", "NaN", "Infinity", True, {"a": 1}, "1e15"])
def test_amounts_must_be_positive_with_no_more_decimals_than_the_currency(amount) -> None:
    assert "greater than 0 with at most 2 decimals" in problems({"amounts": [amount]})["amounts"]
    assert "in USD" in problems({"cap": amount})["cap"]


def test_a_zero_decimal_currency_takes_whole_amounts() -> None:
    assert "at most 0 decimals" in problems({"cap": "100.5"}, price=UnitPrice("2", "jpy"))["cap"]
    assert parse({"cap": "100"}, price=UnitPrice("2", "jpy")).cap == Decimal(100)


def test_amounts_and_a_cap_are_refused_on_a_free_plan_naming_each_field() -> None:
    found = problems({"amounts": ["5"], "cap": "10", "noCap": True}, FREE, None)
    assert set(found) == {"amounts", "cap", "noCap"}
    assert "paid plans" in found["cap"] and "leave it empty" in found["cap"]


def test_amounts_and_a_cap_are_refused_on_a_tiered_price() -> None:
    assert "tiered" in problems({"cap": "10"}, price=UnitPrice("", "usd"))["cap"]


def test_a_cap_above_the_plans_maximum_is_refused_naming_the_maximum() -> None:
    assert "at most 50.00 USD" in problems({"cap": "50.01"}, CAPPED)["cap"]
    assert parse({"cap": "50"}, CAPPED).cap == Decimal(50)


def test_the_cap_can_be_removed_only_where_the_plan_has_no_maximum() -> None:
    assert parse({"noCap": True}).no_cap is True
    assert "set a cap up to that" in problems({"noCap": True}, CAPPED)["noCap"]


def test_choosing_writes_only_the_rows_spend_settings() -> None:
    world = World.create(plans=PlanCatalog(tuple(CAPPED if plan.id == PAID.id else plan for plan in TEST_PLANS)))
    account = world.signed_up("ada@example.com", PAID.id)
    stored = world.spend_choices.choose(account, '{"cap": "30"}')
    assert stored.spend_settings == SpendSettings(cap=Decimal(30))
    assert replace(stored, spend_settings=None, version=account.version) == account
    view = world.spend_choices.view(stored)
    assert (view.cap, view.cap_default, view.cap_max, view.price) == (Decimal(30), Decimal(20), Decimal(50), PER_CALL)
