"""The signup page in Debian's Chromium against the dev stack `make dev` runs: every state a
customer can reach, checked for accessibility (axe-core) and captured as a screenshot."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route

from signup_page import SignupPage

from localdev.dev_stack_process import DevStackProcess, free_port
from localdev.site_server import SiteServer
from testkit.dev_stack import cdk_json_plans, usage_key_id
from tollgate import contract

pytestmark = pytest.mark.browser

UNREACHABLE = "We could not reach the sign-up service"


def call(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def collector_events(stack: DevStackProcess) -> list[dict[str, Any]]:
    return call(stack.urls["collector"] + "/_collector/events")[1]


def assert_accessible(signup: SignupPage) -> None:
    violations = signup.axe_violations()
    assert violations == [], json.dumps(violations, indent=2)


def test_empty_form_is_accessible_and_runs_under_the_strict_csp(signup: SignupPage) -> None:
    signup.open()
    assert signup.page.get_by_role("button", name="Get my API key").is_enabled()
    assert signup.page.get_by_label("Email").get_attribute("autocomplete") == "email"
    assert signup.page.get_by_label("First name").get_attribute("autocomplete") == "given-name"
    assert signup.page.get_by_label("Last name").get_attribute("autocomplete") == "family-name"
    assert_accessible(signup)
    signup.screenshot("01-empty-form")
    assert signup.console_errors == []  # a CSP violation would be reported here


def test_client_checks_name_each_bad_field_and_send_nothing(signup: SignupPage) -> None:
    register_calls: list[str] = []
    signup.page.on("request", lambda r: register_calls.extend([r.method] if r.url.endswith("/register") else []))
    signup.open().fill("ada@", firstname="", lastname="L" * 101).submit()

    assert signup.focused_id() == "email"
    assert "after the @" in signup.field_error("email") or "like name@example.com" in signup.field_error("email")
    assert signup.field_error("firstname") == "Enter your first name."
    assert signup.field_error("lastname") == "Use at most 100 characters."
    for field in ("email", "firstname", "lastname"):
        assert signup.page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
    assert "highlighted" in signup.status()
    assert register_calls == []
    assert_accessible(signup)
    signup.screenshot("02-client-errors")


def test_sign_up_through_the_emailed_link_shows_a_working_key_once_and_a_second_sign_up_gets_the_same_answer(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    idempotency_keys: list[str] = []
    signup.page.on("request", lambda r: idempotency_keys.extend(
        [r.headers.get("idempotency-key", "")] if r.method == "POST" and r.url.endswith("/register") else []))
    signup.open().fill(unique_email).submit()
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
    assert signup.focused_id() == "check-inbox-title"
    assert unique_email in signup.page.locator("#check-inbox").inner_text()
    assert_accessible(signup)
    signup.screenshot("03a-check-your-inbox")
    signup.page.goto(dev_stack.urls["mailbox"])  # make dev's local mailbox: a page too, held to the same bar
    assert_accessible(signup)
    signup.screenshot("03b-local-mailbox")
    signup.use_link_in_mailbox(unique_email, "Confirm your email to get your API key")
    signup.page.locator("#result").wait_for(state="visible", timeout=20000)
    assert "#confirm=" not in signup.page.url  # the token left the address bar at once
    key = signup.page.locator("#api-key").input_value()
    key_id = signup.page.locator("#api-key-id").inner_text()

    assert len(key) >= 20 and key_id
    assert signup.focused_id() == "result-title"
    assert signup.page.locator("#api-key").get_attribute("readonly") is not None
    assert "Store it now" in signup.page.locator("#key-warning").inner_text()
    curl = signup.page.locator("#curl-example").inner_text()
    assert dev_stack.urls["api"] in curl and f"x-api-key: {key}" in curl
    assert signup.page.locator("#key-waiting").is_hidden()  # an active key needs no extra step
    assert signup.page.get_by_role("button", name="Add a payment method").is_hidden()  # leaves the page:
    signup.confirm_key_saved()  # offered once the key is saved
    assert signup.page.get_by_role("button", name="Add a payment method").is_visible()
    assert len(idempotency_keys) == 1 and len(idempotency_keys[0]) == 36
    assert_accessible(signup)
    signup.screenshot("03-success")

    api = dev_stack.urls["api"]
    assert call(f"{api}/hello", {"x-api-key": key})[0] == 200
    assert call(f"{api}/hello", {"x-api-key": key[:-1] + ("a" if key[-1] != "a" else "b")}) == (
        403, {"error": "Forbidden"})
    assert call(f"{api}/hello")[0] == 403

    deadline = time.monotonic() + 10
    usage_key = usage_key_id(dev_stack, key)
    while not [e for e in collector_events(dev_stack) if e.get("apiKeyId") == usage_key] and time.monotonic() < deadline:
        time.sleep(0.1)
    mine = [e for e in collector_events(dev_stack) if e.get("apiKeyId") == usage_key]
    # Moesif's user is the account (the authorizer's principal), and the key shows by its hint only.
    assert mine and mine[0]["user"].startswith(contract.ACCOUNT_ID_PREFIX) and mine[0]["status"] == "200"
    assert mine[0]["keyHint"] == key[-4:]
    received = call(dev_stack.urls["collector"] + "/_collector/requests")[1]
    assert key not in json.dumps(received)  # neither access logs nor Moesif users/companies carry it

    signup.page.go_back()  # the confirmation link again, from the history: the token is gone from it
    signup.open()
    assert key not in signup.page.content()  # shown once: nothing kept for a reload to show again
    assert signup.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    signup.fill(unique_email.upper()).submit()
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)  # the very same answer
    assert signup.page.locator("#result").is_hidden()
    assert len(set(idempotency_keys)) == 2  # a fresh key per submission
    signup.screenshot("04-email-taken")
    signup.use_link_in_mailbox(unique_email, "You already have an account: sign in")
    signup.page.locator("#overview").wait_for(state="visible", timeout=20000)  # signed in to the account page


def test_server_side_validation_message_is_shown_on_its_field(signup: SignupPage, unique_email: str) -> None:
    def send_what_the_client_would_refuse(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["email"] = body["email"].split("@")[0] + "@localhost"  # a domain without a dot: server says 400
        route.continue_(post_data=json.dumps(body))

    signup.page.route("**/register", send_what_the_client_would_refuse)
    signup.open().fill(unique_email).submit()
    signup.wait_for_status("highlighted")
    assert signup.field_error("email") == "Email has an invalid domain after the @."
    assert signup.page.locator("#email").get_attribute("aria-invalid") == "true"
    assert signup.focused_id() == "email"
    assert_accessible(signup)
    signup.screenshot("05-server-validation")


@pytest.mark.parametrize("status, expected", [(429, "Too many requests"), (503, "try again in a minute")])
def test_throttling_and_server_failures_ask_to_retry(signup: SignupPage, unique_email: str, status: int,
                                                     expected: str) -> None:
    signup.page.route("**/register",
                      lambda route: route.fulfill(status=status, json={"error": "<b>raw server text</b>"}))
    signup.open().fill(unique_email).submit()
    text = signup.wait_for_status(expected)
    assert "<b>" not in text and signup.page.locator("#form-status b").count() == 0
    assert signup.page.get_by_role("button", name="Get my API key").is_enabled()


def test_button_is_disabled_while_the_request_is_in_flight_and_a_second_submit_sends_nothing(
        signup: SignupPage, unique_email: str) -> None:
    held: list[Route] = []
    signup.page.route("**/register", lambda route: held.append(route))
    signup.open().fill(unique_email).submit()
    while not held:
        signup.page.wait_for_timeout(20)
    button = signup.page.locator("#submit")
    assert button.is_disabled() and button.get_attribute("aria-busy") == "true"
    assert "Signing you up" in signup.status()
    signup.page.locator("#signup-form").evaluate("form => form.requestSubmit()")  # Enter pressed again
    signup.page.wait_for_timeout(200)
    assert len(held) == 1
    signup.screenshot("05b-in-flight")

    held[0].continue_()
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
    assert len(held) == 1


def test_server_text_is_shown_as_text_never_as_html(signup: SignupPage, unique_email: str) -> None:
    markup = '<img src=x id=injected> is <b>wrong</b>'
    signup.page.route("**/register", lambda route: route.fulfill(
        status=400, json={"error": markup, "fields": {"email": markup, "nickname": markup}}))
    signup.open().fill(unique_email).submit()
    signup.wait_for_status("highlighted")
    assert signup.field_error("email") == f"{markup}."
    assert signup.page.locator("#injected, #email-error b, #form-status b").count() == 0


def test_api_down_behind_the_site_asks_to_retry(browser_context: Any, unique_email: str) -> None:
    """The site answers but its API does not: CloudFront's 502 (the site server's too), a retry later."""
    closed_port = free_port()
    with SiteServer(f"http://127.0.0.1:{closed_port}", plans=cdk_json_plans()) as site:
        page = browser_context.new_page()
        try:
            signup = SignupPage(page, site.url).open()
            signup.fill(unique_email).submit()
            signup.wait_for_status("Something went wrong on our side")
            assert signup.page.get_by_role("button", name="Get my API key").is_enabled()
            signup.screenshot("06-api-unreachable")
            assert signup.calls_elsewhere() == []
        finally:
            page.close()


def test_no_connection_shows_the_network_message(signup: SignupPage, unique_email: str) -> None:
    signup.page.route("**/register", lambda route: route.abort("internetdisconnected"))
    signup.open().fill(unique_email).submit()
    signup.wait_for_status(UNREACHABLE)
    assert signup.page.get_by_role("button", name="Get my API key").is_enabled()


def test_keyboard_only_sign_up(signup: SignupPage, unique_email: str) -> None:
    keyboard = signup.open().page.keyboard
    keyboard.press("Tab")
    assert signup.page.evaluate("() => document.activeElement.textContent").strip() == "Skip to the sign-up form"
    keyboard.press("Enter")  # past the header (the owner's name links home)
    keyboard.press("Tab")
    assert signup.focused_id() == "email"
    keyboard.type(unique_email)
    keyboard.press("Tab")
    keyboard.type("Grace")
    keyboard.press("Tab")
    keyboard.type("Hopper")
    keyboard.press("Enter")
    signup.page.locator("#check-inbox").wait_for(state="visible", timeout=20000)
    assert signup.focused_id() == "check-inbox-title"
    signup.open_link_in_mailbox(unique_email)
    signup.page.locator("#link-card").wait_for(state="visible", timeout=20000)
    assert signup.focused_id() == "link-card-title"
    keyboard.press("Tab")
    assert signup.focused_id() == "link-continue"
    keyboard.press("Enter")
    signup.page.locator("#result").wait_for(state="visible", timeout=20000)
    assert signup.focused_id() == "result-title"
    keyboard.press("Tab")
    assert signup.focused_id() == "api-key"
    keyboard.press("Tab")
    assert signup.focused_id() == "copy-key"
    keyboard.press("Enter")
    signup.page.locator("#copy-status").filter(has_text="Copied").wait_for(timeout=5000)
    signup.page.context.grant_permissions(["clipboard-read"], origin=signup.site_url)
    try:
        copied = signup.page.evaluate("() => navigator.clipboard.readText()")
    finally:
        signup.page.context.clear_permissions()
    assert copied == signup.page.locator("#api-key").input_value()


def test_phone_width_keeps_everything_on_screen(signup: SignupPage, unique_email: str) -> None:
    signup.page.set_viewport_size({"width": 360, "height": 740})
    signup.open()
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert signup.page.evaluate(overflow) == 0
    signup.screenshot("07-phone-360-form")
    key = signup.sign_up(unique_email)
    assert signup.page.evaluate(overflow) == 0
    whole_key_visible = """() => { const box = document.getElementById('api-key');
        return box.scrollWidth <= box.clientWidth && box.scrollHeight <= box.clientHeight; }"""
    assert signup.page.evaluate(whole_key_visible), "the key must wrap, not scroll out of sight"
    assert signup.page.locator("#curl-example").inner_text().count(key) == 1
    signup.screenshot("08-phone-360-success")


def test_dark_colour_scheme_is_applied_and_accessible(signup: SignupPage, unique_email: str) -> None:
    signup.page.emulate_media(color_scheme="dark")
    try:
        signup.open()
        background = signup.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(part) for part in background[background.index("(") + 1:-1].split(",")[:3])
        assert max(red, green, blue) < 60, background
        signup.fill("not-an-email").submit()
        assert_accessible(signup)
        signup.screenshot("09-dark-error")
        signup.sign_up(unique_email)
        assert_accessible(signup)
        signup.screenshot("10-dark-success")
    finally:
        signup.page.emulate_media(color_scheme="light")


@pytest.mark.parametrize("outcome, expected", [
    ("cancel", "No payment method was added"),
    ("success", "Your payment method is saved"),
])
def test_return_from_checkout_tells_what_happened(signup: SignupPage, outcome: str, expected: str) -> None:
    signup.open(f"?checkout={outcome}")
    notice = signup.page.locator("#checkout-notice")
    notice.wait_for(state="visible")
    assert expected in notice.inner_text()
    assert signup.focused_id() == "checkout-notice"
    assert signup.page.locator("#resume").is_visible() == (outcome == "cancel")
    assert "checkout=" not in signup.page.url
    assert_accessible(signup)
    signup.screenshot(f"11-checkout-{outcome}")


def test_add_a_payment_method_opens_stripe_checkout_for_this_customer(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    signup.open().sign_up(unique_email)
    signup.page.get_by_role("button", name="Add a payment method").click()
    signup.page.wait_for_url(f"{dev_stack.urls['stripe']}/**", timeout=20000)


def test_from_sign_up_to_checkout_the_page_calls_only_its_own_origin(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    """Sign-up, the emailed link's confirmation, opening Checkout: every call is on the site's origin,
    to a route of its `/api/` (the API's address only appears in the curl example); leaving for the
    mailbox and for Stripe Checkout are navigations, not calls."""
    signup.open().sign_up(unique_email)
    signup.page.get_by_role("button", name="Add a payment method").click()
    signup.page.wait_for_url(f"{dev_stack.urls['stripe']}/**", timeout=20000)

    calls = {(request.method, urlsplit(request.url).path) for request in signup.site_requests()
             if request.resource_type in ("fetch", "xhr")}
    assert calls - {("GET", "/config.json")} <= {(method, route) for route, method in contract.SITE_ROUTES.items()}
    assert {("POST", contract.ROUTE_SITE_REGISTER), ("POST", contract.ROUTE_SIGNUP_CONFIRM),
            ("POST", contract.ROUTE_SITE_CHECKOUT)} <= calls
    assert signup.calls_elsewhere() == [] and len(signup.site_requests()) > len(calls)  # scripts, styles too
    assert any(request.url.startswith(dev_stack.urls["mailbox"]) and request.is_navigation_request()
               for _, request in signup.requests)  # the mailbox was visited, as a navigation


def test_a_used_or_forged_confirmation_link_says_what_to_do(signup: SignupPage) -> None:
    signup.open("#confirm=" + "A" * 43)
    notice = signup.page.locator("#checkout-notice")
    notice.filter(has_text="expired or was already used").wait_for(timeout=20000)
    assert signup.focused_id() == "checkout-notice" and "#confirm=" not in signup.page.url
    assert signup.page.locator("#signup").is_visible()  # sign up again right there
    assert_accessible(signup)
    signup.screenshot("12-confirmation-link-used")
