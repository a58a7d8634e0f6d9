"""The key page after a sign-up, in Chromium against `make dev` (issue 19, newcomer frictions): it
names the plan signed up for and says what applies to it (free: quota and period, no card, upgrade
from the account page; paid: the price per call); the key stays on screen until the customer says
they saved it (the next steps, which leave the page, show only then; leaving before asks first; the
key is kept in no storage and no URL); the page Checkout returns to leads to the account page. And
the plan chooser: each radio beside its plan's name, on a phone and a desktop."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Dialog, Page, expect
from signup_page import DESKTOP, SignupPage

from localdev.dev_stack_process import DevStackProcess
from tollgate import contract

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
KEPT_ANYWHERE = "() => localStorage.length + sessionStorage.length"


def assert_accessible(signup: SignupPage, screenshot: str) -> None:
    violations = signup.axe_violations()
    assert violations == [], json.dumps(violations, indent=2)
    assert signup.page.evaluate(NO_HORIZONTAL_SCROLL) == 0
    signup.screenshot(screenshot)


def leaving_asks_first(page: Page, leave: str) -> bool:
    """Whether running `leave` (script that navigates away) makes the browser ask first; the
    customer answers "stay"."""
    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    try:
        with page.expect_event("dialog"):
            page.evaluate(leave)
    finally:
        page.remove_listener("dialog", stay)
    return asked == ["beforeunload"]


def test_a_free_sign_up_says_what_the_free_plan_gives_asks_no_card_and_keeps_the_key_until_it_is_saved(
        signup: SignupPage, unique_email: str) -> None:
    signup.open().fill(unique_email).choose_plan("Free").submit()
    key = signup.sign_up_link_result(unique_email, saved=False)
    page = signup.page

    summary = page.locator("#plan-summary").inner_text()
    assert "Free plan" in summary and "1,000 calls a month" in summary and "No card needed" in summary
    assert "counts toward your 1,000 calls a month" in page.locator("#per-call").inner_text()
    assert "invoice" not in page.locator("#result").inner_text()  # nothing is billed on the free plan
    assert page.locator("#next-steps").is_hidden()
    assert page.evaluate(KEPT_ANYWHERE) == 0 and key not in page.url
    assert_accessible(signup, "70-key-free-plan")

    page.get_by_role("button", name="Copy", exact=True).click()  # the customer copies the key...
    assert leaving_asks_first(page, "() => { history.back(); }")  # ...then the browser's back: asked first
    assert page.locator("#api-key").input_value() == key  # stayed: the key is still there

    page.get_by_label("I have saved my API key").focus()
    page.keyboard.press("Space")  # a keyboard ticks it as well
    expect(page.locator("#next-steps")).to_be_visible()
    assert page.get_by_role("button", name="Add a payment method").is_hidden()  # no card on the free plan
    upgrade = page.locator("#upgrade-note").inner_text()
    assert "Need more than 1,000 calls a month?" in upgrade and "account page" in upgrade
    assert page.locator("#api-key").input_value() == key  # still shown after the tick
    assert page.evaluate(KEPT_ANYWHERE) == 0
    assert_accessible(signup, "71-key-free-plan-next-steps")

    page.get_by_role("link", name="Your account page").click()  # leaves without asking now
    page.wait_for_url(f"{signup.site_url}/{contract.ACCOUNT_PAGE}")
    page.locator("#signin").wait_for(state="visible", timeout=20000)


def test_a_paid_sign_up_names_the_price_and_checkout_returns_to_a_page_that_leads_to_the_account(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    page = signup.page
    page.set_viewport_size(PHONE)
    key = signup.open().sign_up(unique_email, saved=False)  # the default plan: Pay as you go

    summary = page.locator("#plan-summary").inner_text()
    assert "Pay as you go plan" in summary and "$0.001 per call, billed monthly" in summary
    assert "billed: $0.001 per call, billed monthly" in page.locator("#per-call").inner_text()
    assert page.get_by_role("button", name="Add a payment method").is_hidden()  # Checkout would replace the key
    assert_accessible(signup, "72-key-paid-plan-phone")

    signup.confirm_key_saved()
    assert "Your key already works" in page.locator("#payment-explainer").inner_text()
    assert page.locator("#upgrade-note").is_hidden()
    assert_accessible(signup, "73-key-paid-plan-next-steps-phone")
    page.get_by_role("button", name="Add a payment method").click()
    page.wait_for_url(f"{dev_stack.urls['stripe']}/**", timeout=20000)
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{dev_stack.urls['site']}/**", timeout=20000)

    expect(page.locator("#checkout-notice")).to_contain_text("Your payment method is saved and your API key is active.")
    assert key not in page.content()  # the key is not on the way back: the account page is
    to_account = page.get_by_role("link", name="Go to your account page")
    assert to_account.is_visible() and "rotate your key" in page.locator("#to-account").inner_text()
    assert_accessible(signup, "74-back-from-checkout-phone")
    to_account.click()
    page.wait_for_url(f"{signup.site_url}/{contract.ACCOUNT_PAGE}")
    page.locator("#signin").wait_for(state="visible", timeout=20000)


@pytest.mark.parametrize("outcome", ["success", "cancel"])
def test_every_return_from_checkout_leads_to_the_account_page(signup: SignupPage, outcome: str) -> None:
    signup.open(f"?checkout={outcome}").page.locator("#checkout-notice").wait_for(state="visible")
    assert signup.page.get_by_role("link", name="Go to your account page").get_attribute("href") == (
        contract.ACCOUNT_PAGE)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "desktop"])
def test_each_plan_radio_sits_beside_its_name(signup: SignupPage, viewport: dict) -> None:
    signup.page.set_viewport_size(viewport)
    signup.open()
    options = signup.page.locator(".plan-option")
    options.first.wait_for(state="visible")

    for option in options.all():
        radio, name = option.get_by_role("radio").bounding_box(), option.locator(".plan-name").bounding_box()
        assert radio and name
        radio_middle = radio["y"] + radio["height"] / 2
        assert name["y"] <= radio_middle <= name["y"] + name["height"], (radio, name)  # one row
        assert radio["x"] + radio["width"] <= name["x"], (radio, name)  # the radio first, then the name
    signup.screenshot(f"75-plan-radios-{viewport['width']}")
