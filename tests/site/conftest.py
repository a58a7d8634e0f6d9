"""Browser fixtures: the dev stack exactly as `make dev` runs it, and Debian's Chromium via Playwright
(one persistent context with a fresh profile per session, a fresh page per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, sync_playwright
from signup_page import DESKTOP, AccountPage, SignupPage

from localdev.dev_stack_process import DevStackProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport=DESKTOP)
        yield context
        context.close()


@pytest.fixture
def signup(browser_context: BrowserContext, dev_stack: DevStackProcess) -> Iterator[SignupPage]:
    """A fresh page on the dev stack's site, signed out: the browser profile is the session's and
    cookies ignore the port, so no test inherits another's session cookie (one left signed in on the
    account page would skip the next test's sign-in form). After the test, what it asked of any origin
    but its own fails the test (issue 19: the pages call only their own origin)."""
    browser_context.clear_cookies()
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    signup_page = SignupPage(page, dev_stack.urls["site"], dev_stack.urls["mailbox"])
    yield signup_page
    page.close()
    assert signup_page.calls_elsewhere() == []


@pytest.fixture
def account(signup: SignupPage) -> AccountPage:
    """The account page in the signup page's tab, signed out (the `signup` fixture cleared the cookies)."""
    return AccountPage(signup.page, signup.site_url, signup.mailbox_url)


@pytest.fixture
def unique_email() -> str:
    return f"ada.{uuid.uuid4().hex[:10]}@example.com"
