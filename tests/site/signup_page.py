"""The signup page as a person uses it, plus what the browser tests look at (axe-core, screenshots)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Request

from localdev.__main__ import PROJECT_ROOT
from localdev.site_server import SiteServer
from testkit.dev_stack import cdk_json_plans
from tollgate import contract

SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
AXE_SOURCE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}


class SignupPage:
    """The signup page as a person uses it, plus what the tests look at (axe, screenshots)."""

    def __init__(self, page: Page, site_url: str, mailbox_url: str | None = None) -> None:
        self.page = page
        self.site_url = site_url
        self.mailbox_url = mailbox_url
        self.console_errors: list[str] = []
        # Every request Playwright saw this page make, navigations included, with the URL of the document
        # that made it (read when it is made: the frame moves on to other documents).
        self.requests: list[tuple[str, Request]] = []
        page.on("console", lambda message: self.console_errors.extend([message.text] if message.type == "error" else []))
        page.on("request", lambda request: self.requests.append((request.frame.url, request)))

    def site_requests(self) -> list[Request]:
        """What the site's own documents asked for (fetches, scripts, styles, images, ...): not the
        navigations (a link followed, Stripe Checkout opened) nor what other pages (the mailbox) loaded."""
        site = origin_of(self.site_url)
        return [request for document, request in self.requests
                if not request.is_navigation_request() and origin_of(document) == site]

    def calls_elsewhere(self, allowed: frozenset[str] = frozenset()) -> list[str]:
        """The site's requests to another origin than its own, but the `allowed` URLs (an owner's logo)."""
        site = origin_of(self.site_url)
        return [f"{request.resource_type} {request.url}" for request in self.site_requests()
                if origin_of(request.url) != site and request.url not in allowed]

    def open(self, query: str = "") -> SignupPage:
        self.page.goto(self.site_url + "/" + query)
        self.page.wait_for_function("() => document.readyState === 'complete'")
        return self

    def fill(self, email: str, firstname: str = "Ada", lastname: str = "Lovelace") -> SignupPage:
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("First name").fill(firstname)
        self.page.get_by_label("Last name").fill(lastname)
        return self

    def choose_plan(self, name: str) -> SignupPage:
        self.page.get_by_role("radio", name=name).check()
        return self

    def submit(self) -> SignupPage:
        self.page.get_by_role("button", name="Get my API key").click()
        return self

    def sign_up(self, email: str, saved: bool = True) -> str:
        """Sign up and return the key the page shows: with `verify_email` (make dev's default), through
        the link emailed to the local mailbox, as a customer clicks it; `saved`: then tick "I have saved
        my API key", as a customer who kept it does (the next steps show, and the page may be left)."""
        self.fill(email).submit()
        return self.sign_up_link_result(email, saved)

    def sign_up_link_result(self, email: str, saved: bool = True) -> str:
        """After the form was sent: the key the page shows, through the emailed link when there is one
        (`saved` as for sign_up)."""
        if self.mailbox_url is not None:
            self.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
            self.use_link_in_mailbox(email)
        self.page.locator("#result").wait_for(state="visible", timeout=20000)
        if saved:
            self.confirm_key_saved()
        return self.page.locator("#api-key").input_value()

    def confirm_key_saved(self) -> SignupPage:
        """Tick "I have saved my API key": the next steps show, and leaving the page no longer asks."""
        self.page.get_by_label("I have saved my API key").check()
        self.page.locator("#next-steps").wait_for(state="visible")
        return self

    def open_link_in_mailbox(self, email: str, subject: str | None = None) -> None:
        """In the local mailbox, click the link of the newest email to `email` (with that subject)."""
        assert self.mailbox_url is not None, "this stack has no mailbox"
        self.page.goto(self.mailbox_url)
        messages = self.page.locator("li.message", has_text=email)
        if subject is not None:
            messages = messages.filter(has=self.page.get_by_role("heading", name=subject))
        messages.first.get_by_role("link").first.click()
        self.page.wait_for_function("() => document.readyState === 'complete'")

    def continue_with_link(self, email: str) -> None:
        """On the page a link opened, once it names `email`: click the button that uses the link."""
        self.page.locator("#link-card").wait_for(state="visible", timeout=20000)
        self.page.get_by_role("button", name=re.compile(rf"^(Create the account for|Continue as) {re.escape(email)}$")
                              ).click()

    def use_link_in_mailbox(self, email: str, subject: str | None = None) -> None:
        """Open the newest link to `email` from the mailbox and use it, as a customer does (two clicks)."""
        self.open_link_in_mailbox(email, subject)
        self.continue_with_link(email)

    def status(self) -> str:
        return self.page.locator("#form-status").inner_text()

    def wait_for_status(self, pattern: str) -> str:
        locator = self.page.locator("#form-status")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = locator.inner_text()
            if re.search(pattern, text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"status never matched {pattern!r}; it says {locator.inner_text()!r}")

    def field_error(self, field: str) -> str:
        return self.page.locator(f"#{field}-error").inner_text()

    def focused_id(self) -> str:
        return self.page.evaluate("() => document.activeElement && document.activeElement.id")

    def axe_violations(self) -> list[dict[str, Any]]:
        return axe_violations(self.page)

    def screenshot(self, name: str) -> Path:
        return save_screenshot(self.page, name)


def origin_of(url: str) -> str:
    """scheme://host:port, as the browser compares origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def metered_call(api_url: str, key: str) -> int:
    """The status a metered call with `key` gets from the local API Gateway."""
    request = urllib.request.Request(api_url + "/hello", headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def assert_accessible(page: SignupPage, name: str) -> None:
    """axe-core finds nothing, nothing scrolls sideways; the page as it is now saved as screenshot `name`."""
    violations = page.axe_violations()
    assert violations == [], json.dumps(violations, indent=2)
    assert page.page.evaluate(NO_HORIZONTAL_SCROLL) == 0
    page.screenshot(name)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    page.evaluate(AXE_SOURCE.read_text())
    return page.evaluate("""async () => {
        const result = await axe.run(document);
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                             targets: v.nodes.map(n => n.target.join(' '))}));
    }""")


def save_screenshot(page: Page, name: str) -> Path:
    """The whole page as test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class AccountPage(SignupPage):
    """The account page (site/account.html) as a customer uses it: signed in by an emailed link."""

    def open(self, query: str = "") -> AccountPage:
        self.page.goto(f"{self.site_url}/{contract.ACCOUNT_PAGE}{query}")
        self.page.wait_for_function("() => document.readyState === 'complete'")
        return self

    def request_link(self, email: str) -> AccountPage:
        self.page.locator("#signin").wait_for(state="visible", timeout=20000)
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_role("button", name="Email me a sign-in link").click()
        self.page.locator("#signin-status").filter(has_text="We sent an email").wait_for(timeout=20000)
        return self

    def sign_in(self, email: str) -> AccountPage:
        """Ask for a link, open it from the mailbox and continue, wait for the account to show."""
        self.open().request_link(email)
        self.use_link_in_mailbox(email, "Your sign-in link")
        self.page.locator("#overview").wait_for(state="visible", timeout=20000)
        return self

    def figure(self, name: str) -> str:
        return self.page.locator(f"#account-{name}").inner_text()

    def keys(self) -> list[str]:
        """Each key's line: id and state."""
        return [item.inner_text() for item in self.page.locator("#key-list li").all()]

    def rotate(self) -> tuple[str, str]:
        """Rotate; the (key, key id) shown once."""
        self.page.get_by_role("button", name="Rotate key").click()
        self.page.locator("#new-key").wait_for(state="visible", timeout=20000)
        return self.page.locator("#new-key-value").input_value(), self.page.locator("#new-key-id").inner_text()


@contextmanager
def page_without_api(browser_context: BrowserContext, ready: str) -> Iterator[Page]:
    """The signup page served with cdk.json's settings and no API behind it (for what runs in the
    page alone), once `ready` (a JavaScript expression) is true."""
    with SiteServer("http://127.0.0.1:9", plans=cdk_json_plans()) as site:
        page = browser_context.new_page()
        page.goto(site.url + "/")
        page.wait_for_function(f"() => {ready}")
        yield page
        page.close()
