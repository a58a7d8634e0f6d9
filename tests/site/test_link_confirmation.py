"""Issue 18, login CSRF through emailed links, in Chromium through `make dev`: opening a sign-up or sign-in
link does nothing by itself. The page names the link's address (read from POST /api/link, which spends
nothing) and waits for a click; only that click posts the token to /api/signup/confirm or
/api/signin/confirm. So a link to someone else's account, mailed to you, cannot sign your browser in to it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request
from signup_page import AccountPage, SignupPage, assert_accessible, metered_call

from localdev.dev_stack_process import DevStackProcess
from testkit import dev_stack as dev_stack_client
from tollgate import contract

pytestmark = pytest.mark.browser

CONFIRM_ROUTES = (contract.ROUTE_SIGNUP_CONFIRM, contract.ROUTE_SIGNIN_CONFIRM)


def confirm_posts(page: Page) -> list[str]:
    """Every POST to a confirm route this page sends from now on (the list fills as they happen)."""
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.endswith(CONFIRM_ROUTES):
            sent.append(request.url)

    page.on("request", record)
    return sent


def has_session(page: Page) -> bool:
    return any(cookie["name"] == contract.SESSION_COOKIE for cookie in page.context.cookies())


def signed_in_as(page: Page) -> int:
    """The status GET /api/account answers this browser (200 signed in, 401 signed out)."""
    return page.evaluate("() => fetch('/api/account', {credentials: 'same-origin'}).then((r) => r.status)")


def test_a_sign_in_link_names_the_account_and_signs_in_only_on_the_click(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    dev_stack_client.sign_up(dev_stack.urls, unique_email)
    account.open().request_link(unique_email)
    posted = confirm_posts(account.page)

    for _ in range(2):  # opened twice (a mail scanner, a second look): the link is still unused
        account.open_link_in_mailbox(unique_email, "Your sign-in link")
        account.page.locator("#link-card").wait_for(state="visible", timeout=20000)
    assert "#signin=" not in account.page.url
    assert account.page.locator("#link-email").inner_text() == unique_email
    assert account.focused_id() == "link-card-title"
    assert posted == [] and not has_session(account.page) and signed_in_as(account.page) == 401
    assert account.page.locator("#overview").is_hidden()
    assert_accessible(account, "66-account-sign-in-link-names-the-account")

    account.page.get_by_role("button", name=f"Continue as {unique_email}").click()

    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("email") == unique_email
    assert len(posted) == 1 and has_session(account.page) and signed_in_as(account.page) == 200
    assert account.page.locator("#link-card").is_hidden()


def test_someone_elses_sign_in_link_leaves_this_browser_signed_in_as_itself(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    """The attack: Mallory asks for a sign-in link to her own account and mails it to Ada. Ada opens it in
    the browser she is signed in with; the page names Mallory's address, and "Not my account" keeps Ada's."""
    mallory = unique_email.replace("ada.", "mallory.")
    for email in (unique_email, mallory):
        dev_stack_client.sign_up(dev_stack.urls, email)
    account.sign_in(unique_email)
    status, _, _ = dev_stack_client.post_json(dev_stack.urls["site"] + contract.ROUTE_SIGNIN, {"email": mallory})
    assert status == 202
    posted = confirm_posts(account.page)

    account.open_link_in_mailbox(mallory, "Your sign-in link")  # Ada clicks the link in Mallory's email
    account.page.locator("#link-card").wait_for(state="visible", timeout=20000)
    assert account.page.locator("#link-email").inner_text() == mallory
    account.page.get_by_role("button", name="Not my account").click()

    account.page.locator("#overview").wait_for(state="visible", timeout=20000)
    assert account.figure("email") == unique_email and posted == []


def test_a_sign_up_link_names_the_address_and_creates_the_account_only_on_the_click(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    signup.open().fill(unique_email).submit()
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
    posted = confirm_posts(signup.page)

    signup.open_link_in_mailbox(unique_email, "Confirm your email to get your API key")
    signup.page.locator("#link-card").wait_for(state="visible", timeout=20000)
    assert "#confirm=" not in signup.page.url
    assert signup.page.locator("#link-email").inner_text() == unique_email
    assert signup.focused_id() == "link-card-title"
    assert posted == [] and signup.page.locator("#result").is_hidden() and signup.page.locator("#signup").is_hidden()
    assert_accessible(signup, "13-signup-link-names-the-address")
    signup.page.get_by_role("button", name="Not my email").click()  # changed my mind: nothing happens
    signup.page.locator("#signup").wait_for(state="visible")
    assert signup.focused_id() == "email" and posted == []

    signup.use_link_in_mailbox(unique_email, "Confirm your email to get your API key")  # the link still works

    signup.page.locator("#result").wait_for(state="visible", timeout=20000)
    assert len(posted) == 1
    assert metered_call(dev_stack.urls["api"], signup.page.locator("#api-key").input_value()) == 200


def test_a_long_address_wraps_on_a_phone(signup: SignupPage, unique_email: str) -> None:
    long_email = re.sub(r"^ada\.", "ada.lovelace.countess.of.lovelace.analytical.engine.", unique_email)
    signup.page.set_viewport_size({"width": 360, "height": 740})
    signup.open().fill(long_email).submit()
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
    signup.open_link_in_mailbox(long_email)
    signup.page.locator("#link-card").wait_for(state="visible", timeout=20000)

    assert_accessible(signup, "14-signup-link-phone-long-address")  # no sideways scroll either
