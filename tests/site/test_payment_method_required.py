"""The signup page of a deployment with `require_payment_method` on and `verify_email` off (`make dev
-c plans=<the default plan with require_payment_method on> -c verify_email=false`), as a customer goes through it in Chromium:
sign-up is one step (the key at once, no email); the page says the key waits for a payment method,
the key is refused until Stripe Checkout completes, then it works; the same email again gets 409."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, expect
from signup_page import DESKTOP, AccountPage, SignupPage, metered_call

import stripe

from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from tollgate import contract
from testkit.dev_stack import UNCACHED_AUTHORIZER, card_first_context

pytestmark = pytest.mark.browser

WAITING_EXPLAINER = "Your key starts working once you add a payment method"
ACTIVATED_NOTICE = "Your payment method is saved and your API key is active."  # asked of the API, not assumed
EMAIL_TAKEN = "This email already has an account"


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess(context={**card_first_context(), **UNCACHED_AUTHORIZER, "verify_email": "false"}) as running:
        yield running


@pytest.fixture
def signup(browser_context: BrowserContext, stack: DevStackProcess) -> Iterator[SignupPage]:
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    signup_page = SignupPage(page, stack.urls["site"])
    yield signup_page
    page.close()
    assert signup_page.calls_elsewhere() == []


def test_the_page_says_the_key_waits_for_a_payment_method_and_checkout_activates_it(
        signup: SignupPage, stack: DevStackProcess, unique_email: str) -> None:
    key = signup.open().sign_up(unique_email)

    assert WAITING_EXPLAINER in signup.page.locator("#payment-explainer").inner_text()
    assert "$0.001 per call, billed monthly" in signup.page.locator("#payment-explainer").inner_text()
    assert "Pay as you go plan" in signup.page.locator("#plan-summary").inner_text()
    waiting = signup.page.locator("#key-waiting")
    assert waiting.is_visible() and "I have saved my API key" in waiting.inner_text()  # before "Try it": the way on
    assert signup.axe_violations() == []
    signup.screenshot("20-awaiting-payment-method")
    assert metered_call(stack.urls["api"], key) == 403

    signup.page.get_by_role("button", name="Add a payment method").click()
    signup.page.wait_for_url(f"{stack.urls['stripe']}/**", timeout=20000)
    signup.page.get_by_role("button", name="Complete").click()
    signup.page.wait_for_url(f"{stack.urls['site']}/**", timeout=20000)

    expect(signup.page.locator("#checkout-notice")).to_contain_text(ACTIVATED_NOTICE)
    assert metered_call(stack.urls["api"], key) == 200


def test_without_verify_email_a_second_sign_up_with_the_same_email_gets_the_409_message(
        signup: SignupPage, unique_email: str) -> None:
    signup.open().sign_up(unique_email)
    signup.open()
    signup.fill(unique_email.upper()).submit()
    signup.wait_for_status(EMAIL_TAKEN)
    assert EMAIL_TAKEN in signup.field_error("email")
    assert signup.focused_id() == "email"
    assert signup.page.locator("#result").is_hidden()
    assert signup.page.get_by_role("link", name="Sign in to your account").get_attribute("href") == contract.ACCOUNT_PAGE
    assert signup.axe_violations() == []
    signup.screenshot("04-email-taken-one-step")


def test_free_then_an_upgrade_through_checkout_keeps_the_key_and_bills_only_the_calls_after_it(
        signup: SignupPage, browser_context: BrowserContext, stack: DevStackProcess, unique_email: str) -> None:
    """Issue 13: sign up on the free plan (no card), call, upgrade on the account page to the paid plan
    that needs a card (Checkout first): the same key works under the paid plan's limits, and the
    upcoming invoice has only the calls made after the upgrade, at the paid price."""
    signup.open()
    signup.fill(unique_email).choose_plan("Free").submit()
    key = signup.sign_up_link_result(unique_email)
    assert [metered_call(stack.urls["api"], key) for _ in range(3)] == [200] * 3  # free: never billed

    account = AccountPage(signup.page, stack.urls["site"], stack.urls["mailbox"])
    account.open().request_link(unique_email)
    account.use_link_in_mailbox(unique_email, "Your sign-in link")
    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("plan") == "Free" and account.axe_violations() == []
    account.screenshot("55-account-change-plan")
    account.page.get_by_role("button", name="Switch to Pay as you go").click()
    account.page.wait_for_url(f"{stack.urls['stripe']}/**", timeout=20000)
    account.page.get_by_role("button", name="Complete").click()
    account.page.wait_for_url(f"{stack.urls['site']}/account**", timeout=20000)

    for _ in range(40):  # the webhook applies the change a moment after Checkout
        account.open().page.locator("#overview").wait_for(state="visible", timeout=20000)
        if account.figure("plan") == "Pay as you go":
            break
        account.page.wait_for_timeout(500)
    assert account.figure("plan") == "Pay as you go"
    assert [metered_call(stack.urls["api"], key) for _ in range(4)] == [200] * 4  # the same key
    for _ in range(40):  # the usage reporter reports the ledger object of those calls within seconds
        if account.figure("calls") == "4":
            break
        account.page.wait_for_timeout(500)
        account.open().page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("calls") == "4"
    stripe_api = stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": stack.urls["stripe"]})
    (customer,) = stripe_api.v1.customers.list({"email": unique_email}).data
    (subscription,) = stripe_api.v1.subscriptions.list({"customer": customer.id}).data  # made by the upgrade
    paid_price = subscription["items"].data[0].price.id
    preview = stripe_api.v1.invoices.create_preview({"customer": customer.id, "subscription": subscription.id})
    assert [(line.pricing.price_details.price, line.quantity) for line in preview.lines.data] == [
        (paid_price, 4)]  # only the calls after the upgrade, at the paid price
    assert account.figure("quota").endswith("of 10,000 calls this month")  # the paid plan's limits
    assert account.axe_violations() == []
