"""The account page in Chromium through `make dev` (issue 12), as a customer uses it: sign up through
the emailed link, make calls, sign in by emailed link and see them; rotate the key (both work, the
quota left carries over), revoke the old one (403); open Stripe's customer portal (the bridge's
stand-in), and see why not when the portal is not set up; sign out. Every page state is checked with
axe-core, at 360 px and in the dark too, and captured as a screenshot."""

from __future__ import annotations

import re

import pytest
import stripe
from playwright.sync_api import Route, expect
from signup_page import AccountPage, SignupPage, assert_accessible, metered_call

from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from testkit import dev_stack as dev_stack_client
from tollgate import contract

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def wait_for_billable_calls(account: AccountPage, calls: str) -> None:
    """The usage reporter reports the ledger object of the calls within seconds: reload until it did."""
    for _ in range(40):
        if account.figure("calls") == calls:
            break
        account.page.wait_for_timeout(500)
        account.open().page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("calls") == calls


def test_sign_up_make_7_calls_sign_in_and_the_account_page_shows_the_7_calls(
        signup: SignupPage, account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    key = signup.open().sign_up(unique_email)
    assert [metered_call(dev_stack.urls["api"], key) for _ in range(7)] == [200] * 7

    account.open()
    account.page.locator("#signin").wait_for(state="visible")
    assert account.focused_id() == "signin-email"
    assert_accessible(account, "50-account-signed-out")
    account.request_link(unique_email)
    assert_accessible(account, "51-account-link-sent")
    account.use_link_in_mailbox(unique_email, "Your sign-in link")
    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert "#signin=" not in account.page.url

    wait_for_billable_calls(account, "7")
    assert account.figure("email") == unique_email and account.figure("status") == "Active"
    assert account.figure("quota") == "7 used, 9,993 left of 10,000 calls this month"
    assert account.figure("plan") == "Pay as you go"
    assert re.fullmatch(r"\$0\.01", account.figure("amount"))  # 7 calls at 0.1 cent, rounded
    assert re.fullmatch(r"\w{3} \d{1,2}, \d{4} to \w{3} \d{1,2}, \d{4}", account.figure("period"))
    (line,) = account.keys()
    assert "Active (current key)" in line and key not in account.page.content()
    assert account.page.evaluate("() => document.cookie") == ""  # the session cookie is HttpOnly
    assert account.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    # The one console line: the signed-out visit's GET /api/account answered 401 (Chromium logs every 4xx load).
    assert [error for error in account.console_errors if "status of 401" not in error] == []
    assert_accessible(account, "52-account-overview")


def test_rotate_both_keys_work_on_the_accounts_one_quota_then_revoke_the_old_one_gets_403(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    created = dev_stack_client.sign_up(dev_stack.urls, unique_email)  # the page's own sign-up: the test above
    old, old_id = created["apikey"], created["keyId"]
    assert [metered_call(dev_stack.urls["api"], old) for _ in range(2)] == [200] * 2
    account.sign_in(unique_email)

    new, new_id = account.rotate()
    assert new != old and new_id != old_id
    assert account.focused_id() == "new-key-title"
    assert "Store it now" in account.page.locator("#new-key-warning").inner_text()
    assert old_id in account.page.locator("#new-key-overlap").inner_text()
    assert [metered_call(dev_stack.urls["api"], key) for key in (old, new)] == [200, 200]
    lines = account.keys()
    assert old_id in lines[0] and "Still works until" in lines[0]
    assert new_id in lines[1] and "Active (current key)" in lines[1]
    assert_accessible(account, "53-account-rotated")

    account.page.get_by_role("button", name=f"Revoke now: key {old_id}").click()
    expect(account.page.locator("#keys-status")).to_contain_text(f"Key {old_id} is revoked")
    assert [metered_call(dev_stack.urls["api"], key) for key in (old, new)] == [403, 200]
    assert "Revoked" in account.keys()[0]
    account.open().page.locator("#overview").wait_for(state="visible")
    assert new not in account.page.content()  # shown once
    # One quota for the account, whichever key calls: 3 calls with the old key, 2 with the new one; the
    # refused call counts nothing (the authorizer refused it before the usage plan).
    assert account.figure("quota") == "5 used, 9,995 left of 10,000 calls this month"
    assert_accessible(account, "54-account-revoked")


def test_manage_billing_opens_the_stripe_portal_and_comes_back(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.sign_in(unique_email)

    account.page.get_by_role("button", name="Manage billing").click()
    account.page.wait_for_url(f"{dev_stack.urls['stripe']}/_bridge/portal/**", timeout=20000)
    assert account.page.get_by_role("heading", level=1, name="Billing").is_visible()
    assert unique_email in account.page.content()
    assert account.axe_violations() == []
    account.screenshot("55-portal-stand-in")
    account.page.get_by_role("link", name="Return to your account").click()
    account.page.locator("#overview").wait_for(state="visible", timeout=20000)


def test_without_make_stripe_setups_portal_configuration_manage_billing_says_it_is_not_set_up(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    """Issue 18: the Stripe account keeps its default portal configuration, but the one `make stripe-setup`
    made is no longer recognisable (its metadata edited away): no portal opens, the page says why."""
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.sign_in(unique_email)
    stripe_api = stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": dev_stack.urls["stripe"]})
    (tollgates,) = [configuration for configuration in stripe_api.v1.billing_portal.configurations.list().data
                    if configuration.metadata.to_dict() == contract.STRIPE_PORTAL_CONFIGURATION_METADATA]
    stripe_api.v1.billing_portal.configurations.update(tollgates.id, {"metadata": {"tollgate": ""}})
    try:
        account.page.get_by_role("button", name="Manage billing").click()
        expect(account.page.locator("#billing-status")).to_contain_text(
            "Billing management is not set up yet: the owner of this service has been alerted.")
        assert account.page.url == f"{dev_stack.urls['site']}/{contract.ACCOUNT_PAGE}"  # no portal, no default one
        assert account.page.get_by_role("button", name="Manage billing").is_enabled()
        assert_accessible(account, "55b-portal-not-set-up")
    finally:
        stripe_api.v1.billing_portal.configurations.update(
            tollgates.id, {"metadata": dict(contract.STRIPE_PORTAL_CONFIGURATION_METADATA)})


def test_sign_out_ends_the_session_and_a_used_link_says_what_to_do(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.sign_in(unique_email)
    account.page.get_by_role("button", name="Sign out", exact=True).click()
    expect(account.page.locator("#notice")).to_contain_text("You are signed out")
    account.open().page.locator("#signin").wait_for(state="visible")  # the cookie no longer opens anything

    account.page.go_back()  # back to the page the sign-in link opened: its token is spent
    account.page.goto(account.page.url)
    account.open_link_in_mailbox(unique_email, "Your sign-in link")
    expect(account.page.locator("#notice")).to_contain_text("expired or was already used")
    assert account.page.locator("#signin").is_visible()
    assert_accessible(account, "56-account-link-used")


def test_on_a_phone_in_the_dark_with_the_keyboard(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.page.set_viewport_size(PHONE)
    account.page.emulate_media(color_scheme="dark")
    try:
        account.open().page.locator("#signin").wait_for(state="visible")
        keyboard = account.page.keyboard
        assert account.focused_id() == "signin-email"
        keyboard.type(unique_email)
        keyboard.press("Enter")
        account.page.locator("#signin-status").filter(has_text="We sent an email").wait_for(timeout=20000)
        assert_accessible(account, "57-account-phone-dark-link-sent")
        account.open_link_in_mailbox(unique_email, "Your sign-in link")
        account.page.locator("#link-card").wait_for(state="visible", timeout=20000)
        assert account.focused_id() == "link-card-title"
        assert_accessible(account, "57b-account-phone-dark-link-card")
        keyboard.press("Tab")
        assert account.focused_id() == "link-continue"
        keyboard.press("Enter")
        account.page.locator("#overview").wait_for(state="visible", timeout=20000)
        assert_accessible(account, "58-account-phone-dark-overview")
        account.rotate()
        assert_accessible(account, "59-account-phone-dark-rotated")
    finally:
        account.page.emulate_media(color_scheme="light")


def test_a_failing_service_says_what_to_do(account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.sign_in(unique_email)

    def fail(route: Route) -> None:
        route.fulfill(status=503, json={"error": "<b>raw</b>"}, headers={"Retry-After": "60"})

    account.page.route("**/api/account/keys/rotate", fail)
    account.page.get_by_role("button", name="Rotate key").click()
    expect(account.page.locator("#keys-status")).to_contain_text("nothing changed. Please try again in a minute")
    assert account.page.locator("#keys-status b").count() == 0
    assert_accessible(account, "60-account-error")


def test_the_free_plan_chosen_on_the_page_gives_a_working_key_that_nothing_is_billed_for(
        signup: SignupPage, account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    """Issue 13: the signup page lists the plans with their price text and limits; a free plan's key
    works without a card, and its account shows the free plan's quota and nothing to pay."""
    signup.open()
    options = signup.page.locator(".plan-option")
    options.first.wait_for(state="visible")
    assert [text.split("\n")[0] for text in options.all_inner_texts()] == ["Pay as you go", "Free"]
    assert "Free up to 1,000 calls a month" in options.nth(1).inner_text()
    assert "1,000 calls a month, up to 2 a second" in options.nth(1).inner_text()
    assert_accessible(signup, "53-signup-plans")
    signup.fill(unique_email).choose_plan("Free")
    key = signup.submit() and signup.sign_up_link_result(unique_email)
    assert [metered_call(dev_stack.urls["api"], key) for _ in range(3)] == [200] * 3

    account.open().request_link(unique_email)
    account.use_link_in_mailbox(unique_email, "Your sign-in link")
    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("plan") == "Free"
    assert account.figure("amount") == "Nothing to pay on the free plan"
    # The free plan is pooled (free_pool_size): API Gateway counts the shard, shared by many accounts, so
    # the page never shows that count as this account's; its own count is Tollgate's (the usage counts).
    assert account.figure("quota") == "Not available right now"
    assert_accessible(account, "54-account-free-plan")


def test_after_a_change_from_paid_to_free_the_page_shows_what_stripe_still_bills_never_nothing_to_pay(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    """Issue 18: 20 calls on Pay as you go, then Free in the same period. The subscription ends with
    the period and its final invoice bills those calls: the page says how much, for which plan and when."""
    key = dev_stack_client.sign_up(dev_stack.urls, unique_email)["apikey"]
    assert [metered_call(dev_stack.urls["api"], key) for _ in range(20)] == [200] * 20
    account.sign_in(unique_email)
    wait_for_billable_calls(account, "20")

    account.page.get_by_role("button", name="Switch to Free").click()
    expect(account.page.locator("#plans-status")).to_contain_text("You are on the Free plan now")

    assert account.figure("plan") == "Free"
    period_end = account.figure("period").split(" to ")[1]
    assert account.figure("amount") == (
        f"Stripe will still bill $0.02 for this period's calls on Pay as you go, on {period_end}")
    assert account.figure("calls") == "20"
    assert_accessible(account, "61-account-paid-to-free")
