"""The signup page of a deployment with `require_payment_method` on and `verify_email` off (`make dev
-c plans=<the default plan with require_payment_method on> -c verify_email=false`), as a customer goes through it in Chromium:
sign-up is one step (the key at once, no email); the page says the key waits for a payment method,
the key is refused until Stripe Checkout completes, then it works; the same email again gets 409."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, expect
from signup_page import DESKTOP, SignupPage, metered_call

from localdev.__main__ import DevStackProcess
from tollgate import contract
from testkit.dev_stack import card_first_context

pytestmark = pytest.mark.browser

WAITING_EXPLAINER = "Your key starts working once you add a payment method"
ACTIVATED_NOTICE = "Your payment method is saved and your API key is active."  # asked of the API, not assumed
EMAIL_TAKEN = "This email already has an account"


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess(context={**card_first_context(), "verify_email": "false"}) as running:
        yield running


@pytest.fixture
def signup(browser_context: BrowserContext, stack: DevStackProcess) -> Iterator[SignupPage]:
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    yield SignupPage(page, stack.urls["site"])
    page.close()


def test_the_page_says_the_key_waits_for_a_payment_method_and_checkout_activates_it(
        signup: SignupPage, stack: DevStackProcess, unique_email: str) -> None:
    key = signup.open().sign_up(unique_email)

    assert WAITING_EXPLAINER in signup.page.locator("#payment-explainer").inner_text()
    assert signup.page.locator("#key-waiting").is_visible()  # said before "Try it", not only at the end
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
