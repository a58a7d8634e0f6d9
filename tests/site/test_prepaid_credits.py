"""Issue 21, prepaid credit in Chromium through `make dev` (a deployment selling cdk.json's plans and a
prepaid one): a prepaid customer's account page shows an empty balance, the packs and the price of a call;
"Buy credits" goes through the Stripe bridge's Checkout stand-in in payment mode, and back on the page the
paid pack is the balance and its entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, expect
from signup_page import DESKTOP, AccountPage, assert_accessible

from localdev.dev_stack_process import DevStackProcess
from testkit import dev_stack as dev_stack_client
from testkit.dev_stack import UNCACHED_AUTHORIZER, prepaid_context

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess(context={**prepaid_context(), **UNCACHED_AUTHORIZER}) as running:
        yield running


@pytest.fixture
def account(browser_context: BrowserContext, stack: DevStackProcess) -> Iterator[AccountPage]:
    browser_context.clear_cookies()
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    account_page = AccountPage(page, stack.urls["site"], stack.urls["mailbox"])
    yield account_page
    page.close()
    assert account_page.calls_elsewhere(frozenset({stack.urls["stripe"]})) == []


def test_a_prepaid_customer_buys_credit_through_checkout_and_sees_it_on_the_page(
        account: AccountPage, stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(stack.urls, unique_email, plan="prepaid")
    account.sign_in(unique_email)
    page = account.page
    page.locator("#credits").wait_for(state="visible")
    assert page.locator("#credits-balance").inner_text() == "$0.00"
    assert page.locator("#credits-unit-price").inner_text() == "$0.001"
    assert page.locator("#credits-empty").is_visible()
    assert [option.inner_text().replace("\n", " ") for option in page.locator("#credits-packs label").all()] == [
        "$10.00 of credit for $10.00", "$55.00 of credit for $50.00"]
    assert_accessible(account, "78-account-prepaid-credit")

    page.get_by_label("$55.00 of credit").check()
    page.get_by_role("button", name="Buy credits").click()
    page.wait_for_url(f"{stack.urls['stripe']}/**", timeout=20000)
    expect(page.get_by_role("heading", name="Pay")).to_be_visible()
    assert "50.00 USD" in page.locator("main").inner_text()
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{stack.urls['site']}/**", timeout=20000)

    page.locator("#credits").wait_for(state="visible")
    expect(page.locator("#credits-status")).to_contain_text("your payment is received")
    expect(page.locator("#credits-balance")).to_have_text("$55.00")
    assert page.locator("#credits-entries li").first.inner_text().startswith("Bought: +$55.00 (pack fifty)")
    assert "credits=" not in page.url
    assert_accessible(account, "79-account-prepaid-credit-bought")
