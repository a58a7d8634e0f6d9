"""The bridge's stand-in Checkout page (localdev/stripe_bridge/checkout.py) as Chromium shows it on
the way from the signup page's "Add a payment method": styled, accessible, and nothing it makes
the browser ask for fails (a failed /favicon.ico shows up as a console error)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import stripe
from playwright.sync_api import BrowserContext, Page, Response
from signup_page import axe_violations, save_screenshot

pytestmark = pytest.mark.browser

SUCCESS_URL = "http://127.0.0.1:9/?checkout=success"
CANCEL_URL = "http://127.0.0.1:9/?checkout=cancel"


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.fixture
def session(stripe_client: stripe.StripeClient) -> Any:
    customer = stripe_client.v1.customers.create({"email": f"{uuid.uuid4().hex[:10]}@example.com"})
    return stripe_client.v1.checkout.sessions.create({
        "mode": "setup", "customer": customer.id, "allowed_payment_method_types": ["card"],
        "success_url": SUCCESS_URL, "cancel_url": CANCEL_URL})


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_checkout_page_is_styled_accessible_and_everything_it_loads_answers(
        page: Page, session: Any, stripe_api: str, color_scheme: Literal["light", "dark"]) -> None:
    responses: list[Response] = []
    console_errors: list[str] = []
    page.on("response", lambda response: responses.append(response))
    page.on("console", lambda message: console_errors.extend([message.text] if message.type == "error" else []))
    page.emulate_media(color_scheme=color_scheme)

    page.goto(session.url, wait_until="networkidle")

    assert [(r.url, r.status) for r in responses if r.status >= 400] == []
    assert console_errors == []
    assert {r.url for r in responses} >= {session.url, f"{stripe_api}/_bridge/checkout.css"}
    assert page.request.get(f"{stripe_api}/favicon.ico").status < 400  # whether or not this browser asked
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.get_by_role("heading", level=1, name="Add a payment method").is_visible()
    assert page.get_by_role("button", name="Complete").is_enabled()
    assert page.get_by_role("link", name="Cancel and go back").get_attribute("href") == CANCEL_URL
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background != "rgba(0, 0, 0, 0)"  # the stylesheet applied
    assert axe_violations(page) == []
    save_screenshot(page, f"30-checkout-stand-in-{color_scheme}")
