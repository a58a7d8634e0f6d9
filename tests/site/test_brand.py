"""The owner's brand on the pages a customer sees (issue 13), in Chromium through `make dev -c ...`:
product name, logo (from the owner's host, which the CSP must let through), terms / privacy /
support links, and an accent colour, a dark one and a light one, that keeps every text at AA
contrast in the light and the dark theme (axe-core): sign-up form, Checkout return, the key, the
account page signed out and signed in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Route
from signup_page import DESKTOP, AccountPage, SignupPage

from localdev.dev_stack_process import DevStackProcess

pytestmark = pytest.mark.browser

LOGO_URL = "https://cdn.acme.example/logo.svg"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="18"/></svg>'
BRAND = {"product_name": "Acme Weather", "logo_url": LOGO_URL, "terms_url": "https://acme.example/terms",
         "privacy_url": "https://acme.example/privacy", "support_contact": "help@acme.example"}
ACCENTS = {"dark-accent": "#1a1a2e", "light-accent": "#ffe14d"}


@pytest.fixture(scope="module", params=list(ACCENTS))
def accent(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def stack(accent: str) -> Iterator[DevStackProcess]:
    with DevStackProcess(context={**BRAND, "accent_color": ACCENTS[accent]}) as running:
        yield running


@pytest.fixture
def signup(browser_context: BrowserContext, stack: DevStackProcess) -> Iterator[SignupPage]:
    """A page whose requests to the owner's logo host are answered with the logo (no network here); it
    may ask nothing else of another origin."""
    browser_context.clear_cookies()
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    page.route(LOGO_URL, lambda route: route.fulfill(body=LOGO, content_type="image/svg+xml"))
    signup_page = SignupPage(page, stack.urls["site"], stack.urls["mailbox"])
    yield signup_page
    page.close()
    assert signup_page.calls_elsewhere(allowed=frozenset({LOGO_URL})) == []  # the owner's logo, nothing else


def assert_branded_and_accessible(page: SignupPage, title: str, screenshot: str) -> None:
    """The brand is shown, nothing was blocked, and axe finds nothing, in the light and the dark theme."""
    page.page.locator("#brand-home").wait_for(state="visible", timeout=10000)
    assert page.page.locator("#brand-name").inner_text() == "Acme Weather"
    assert page.page.title() == f"{title} · Acme Weather"
    logo = page.page.locator("#brand-logo")
    assert logo.get_attribute("src") == LOGO_URL
    page.page.wait_for_function("() => document.getElementById('brand-logo').naturalWidth > 0")
    links = page.page.locator("#brand-links")
    assert links.get_by_role("link", name="Terms of service").get_attribute("href") == BRAND["terms_url"]
    assert links.get_by_role("link", name="Privacy policy").get_attribute("href") == BRAND["privacy_url"]
    assert links.get_by_role("link", name="Support: help@acme.example").get_attribute("href") == (
        "mailto:help@acme.example")
    try:
        for scheme in ("light", "dark"):
            page.page.emulate_media(color_scheme=scheme)
            # brand.js derives the accent again on the scheme's change event, a moment after the switch
            page.page.wait_for_function("(scheme) => document.documentElement.dataset.accentScheme === scheme",
                                        arg=scheme, timeout=10000)
            violations = page.axe_violations()
            assert violations == [], f"{scheme} theme: " + json.dumps(violations, indent=2)
            page.screenshot(f"{screenshot}-{scheme}")
    finally:
        page.page.emulate_media(color_scheme="light")
    assert [error for error in page.console_errors if "status of 401" not in error] == []


def test_the_signup_page_is_the_owners(signup: SignupPage, accent: str) -> None:
    signup.open()
    assert_branded_and_accessible(signup, "Get your API key", f"60-brand-{accent}-signup")

    signup.submit()  # empty: every field shows its error, in the accent's surroundings
    assert signup.field_error("email")
    assert_branded_and_accessible(signup, "Get your API key", f"61-brand-{accent}-errors")


def test_the_checkout_return_page_is_the_owners(signup: SignupPage, accent: str) -> None:
    signup.open("?checkout=cancel")
    signup.page.locator("#resume").wait_for(state="visible")
    assert_branded_and_accessible(signup, "Get your API key", f"62-brand-{accent}-checkout-cancel")


def test_the_key_and_the_account_pages_are_the_owners(
        signup: SignupPage, accent: str, unique_email: str) -> None:
    signup.open().sign_up(unique_email)
    assert_branded_and_accessible(signup, "Get your API key", f"63-brand-{accent}-key")

    account = AccountPage(signup.page, signup.site_url, signup.mailbox_url)
    account.open().page.locator("#signin").wait_for(state="visible")
    assert_branded_and_accessible(account, "Your account", f"64-brand-{accent}-account-signed-out")
    account.request_link(unique_email).use_link_in_mailbox(unique_email, "Your sign-in link")
    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert_branded_and_accessible(account, "Your account", f"65-brand-{accent}-account")
