"""Issue 21, the account page's alerts and cap in Chromium through `make dev`: a paid customer sees no
alert by default, is told which field is wrong and what to type, then sets an alert on the period's
charges and a monthly cap, which the page (and a reload) shows."""

from __future__ import annotations

import pytest
from signup_page import AccountPage, assert_accessible

from localdev.dev_stack_process import DevStackProcess
from testkit import dev_stack as dev_stack_client

pytestmark = pytest.mark.browser


def test_a_paid_customer_sets_an_alert_on_charges_and_a_monthly_cap(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)  # the default plan: pay as you go
    account.sign_in(unique_email)
    page = account.page
    page.locator("#spend").wait_for(state="visible")
    assert page.locator("#spend-thresholds li").count() == 0
    assert page.locator("#spend-cap-line").inner_text() == "No spend cap."

    page.get_by_label("Alert at these percentages of your quota").fill("120")
    page.get_by_label("Monthly spend cap").fill("12.345")
    page.get_by_role("button", name="Save alerts and cap").click()
    page.locator("#spend-status").filter(has_text="correct the fields").wait_for()
    assert "whole numbers from 1 to 100" in account.field_error("spend-percents")
    assert "at most 2 decimals" in account.field_error("spend-cap")
    assert account.focused_id() == "spend-percents"

    page.get_by_label("Alert at these percentages of your quota").fill("90")
    page.get_by_label("Alert when this period's charges reach").fill("5, 10")
    page.get_by_label("Monthly spend cap").fill("12.50")
    page.get_by_role("button", name="Save alerts and cap").click()
    page.locator("#spend-status").filter(has_text="Saved").wait_for()

    expected = ["90% of your quota: not reached this period", "5 USD of charges: not reached this period",
                "10 USD of charges: not reached this period"]
    assert [item.inner_text() for item in page.locator("#spend-thresholds li").all()] == expected
    assert page.locator("#spend-cap-line").inner_text() == "Spend cap: 12.50 USD per billing period."
    assert account.field_error("spend-cap") == ""
    assert_accessible(account, "76-account-spend-settings")

    account.open().page.locator("#spend").wait_for(state="visible")
    assert [item.inner_text() for item in page.locator("#spend-thresholds li").all()] == expected
    assert page.get_by_label("Monthly spend cap").input_value() == "12.50"
