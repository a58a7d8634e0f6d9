"""The rules of usage alerts and the spend cap (tollgate.domain.spend_control), on plain values:
which thresholds apply, when one is crossed, what the period's charges are, which cap applies."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from testkit.fake_ports import TEST_PLANS
from tollgate.domain.spend_control import (
    PeriodCharges,
    QuotaUsage,
    SpendFigures,
    SpendSettings,
    Threshold,
    ThresholdKind,
    Window,
    cap_reached,
    charges,
    crossed,
    effective_cap,
    shown,
    thresholds,
)

FREE, PAID = TEST_PLANS.get("free"), TEST_PLANS.get("standard")  # quotas 1,000 and 10,000 calls


PERIOD = Window(0, 2_592_000)


def quota_used(calls: int) -> SpendFigures:
    return SpendFigures(quota=QuotaUsage(PERIOD, calls))


def billed(calls: int) -> PeriodCharges:
    """`calls` billable calls at a tenth of a cent each (make stripe-setup's default price)."""
    spent = charges(calls, "0.1", "usd")
    assert spent is not None
    return PeriodCharges(PERIOD, calls, spent, "usd")


def test_a_free_plan_alerts_at_80_and_100_percent_of_its_quota_unless_the_customer_chose_otherwise() -> None:
    assert [t.id for t in thresholds(None, FREE)] == ["quota:80", "quota:100"]
    assert [t.id for t in thresholds(SpendSettings(quota_percents=(50,)), FREE)] == ["quota:50"]
    assert thresholds(SpendSettings(quota_percents=()), FREE) == ()


def test_a_paid_plan_has_no_alert_by_default_and_alerts_on_amounts_only_when_paid() -> None:
    assert thresholds(None, PAID) == ()
    chosen = SpendSettings(quota_percents=(90,), amounts=(Decimal("10"), Decimal("2.50")))
    assert [t.id for t in thresholds(chosen, PAID)] == ["quota:90", "amount:2.5", "amount:10"]
    assert [t.id for t in thresholds(chosen, FREE)] == ["quota:90"]  # a free plan charges nothing


def test_a_quota_threshold_is_crossed_from_the_call_that_reaches_its_percentage() -> None:
    eighty = Threshold(ThresholdKind.QUOTA, Decimal(80))
    assert not crossed(eighty, FREE, quota_used(799))
    assert crossed(eighty, FREE, quota_used(800))
    assert not crossed(eighty, FREE, SpendFigures())  # not measured (a row from before account ids)


def test_an_amount_threshold_is_crossed_when_the_periods_charges_reach_it() -> None:
    five = Threshold(ThresholdKind.AMOUNT, Decimal(5))
    assert not crossed(five, PAID, SpendFigures(charges=billed(4_999)))
    assert crossed(five, PAID, SpendFigures(charges=billed(5_000)))
    assert not crossed(five, PAID, quota_used(10**9))  # a tiered price: charges unknown until the invoice


def test_charges_are_billable_calls_times_the_unit_price_in_the_currencys_major_unit() -> None:
    assert charges(5_000, "0.1", "usd") == Decimal("5")  # a tenth of a cent a call
    assert charges(3, "2", "jpy") == Decimal("6")  # zero-decimal: the minor unit is the yen
    assert charges(1, "1", "kwd") == Decimal("0.001")  # three decimals
    assert charges(7, "", "usd") is None  # tiered
    assert shown(Decimal("4.999"), "usd") == "4.99 USD"  # never shown as more than was charged


def test_the_cap_is_the_customers_choice_at_most_the_plans_maximum_else_the_plans_default() -> None:
    capped = replace(PAID, spend_cap_default="20", spend_cap_max="50")
    assert effective_cap(None, PAID) is None
    assert effective_cap(None, capped) == Decimal(20)
    assert effective_cap(SpendSettings(cap=Decimal(30)), capped) == Decimal(30)
    assert effective_cap(SpendSettings(cap=Decimal(80)), capped) == Decimal(50)
    assert effective_cap(SpendSettings(no_cap=True), capped) == Decimal(50)  # a maximum is always a cap
    assert effective_cap(SpendSettings(no_cap=True), replace(PAID, spend_cap_default="20")) is None
    assert effective_cap(SpendSettings(cap=Decimal(1)), FREE) is None


@pytest.mark.parametrize(("calls", "reached"), [(9_999, False), (10_000, True), (10_001, True)])
def test_the_cap_is_reached_when_the_periods_charges_reach_it(calls: int, reached: bool) -> None:
    assert cap_reached(SpendSettings(cap=Decimal(10)), PAID, billed(calls)) is reached
    assert (
        cap_reached(SpendSettings(cap=Decimal(10)), PAID, None) is False
    )  # a tiered price: never known before the invoice
