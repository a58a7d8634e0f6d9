"""A customer who fell behind (past due, an open invoice, key cut off) adds a card on the signup
page, in Chromium through `make dev`: Stripe Checkout (the bridge's stand-in) returns to the page,
which no longer holds the key and asks the API what became of the account. A card that pays brings
the key back and the page says so; a declined card keeps it cut off and the page says why."""

from __future__ import annotations

import json
import urllib.request

import pytest
import stripe
from playwright.sync_api import expect
from signup_page import SignupPage, metered_call

from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from testkit.dev_stack import usage_key_id
from tollgate import contract

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def fall_behind(stack: DevStackProcess, api_key_id: str) -> None:
    """The bridge's hook: the key's subscription goes past due with an open invoice; the signed
    events reach the local webhook before it answers."""
    client = stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": stack.urls["stripe"]})
    query = f"metadata['{contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID}']:'{api_key_id}'"
    (customer,) = client.v1.customers.search({"query": query}).data
    (subscription,) = client.v1.subscriptions.list({"customer": customer.id}).data
    hook = urllib.request.Request(f"{stack.urls['stripe']}/_bridge/subscriptions/{subscription.id}/past_due",
                                  data=json.dumps({"amount_due": 1250}).encode(), method="POST")
    with urllib.request.urlopen(hook, timeout=20) as answer:
        assert {delivery["status"] for delivery in json.loads(answer.read())["deliveries"]} == {200}


@pytest.mark.parametrize("card, viewport, color_scheme, says, key_works", [
    ("pays", None, "light", "Your payment method is saved and your API key is active.", 200),
    ("is declined", PHONE, "dark", "Your card was declined, so your API key stays paused.", 403),
], ids=["card-pays", "card-declined"])
def test_a_past_due_customer_adds_a_card_and_the_page_says_what_became_of_the_key(
        signup: SignupPage, dev_stack: DevStackProcess, unique_email: str, card: str, viewport: dict | None,
        color_scheme: str, says: str, key_works: int) -> None:
    page = signup.page
    if viewport:
        page.set_viewport_size(viewport)
    page.emulate_media(color_scheme=color_scheme)
    key = signup.open().sign_up(unique_email)
    fall_behind(dev_stack, usage_key_id(dev_stack, key))  # Stripe's customer names the account's usage key
    assert metered_call(dev_stack.urls["api"], key) == 403

    page.get_by_role("button", name="Add a payment method").click()
    page.wait_for_url(f"{dev_stack.urls['stripe']}/**", timeout=20000)
    page.get_by_label(card, exact=False).check()
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{dev_stack.urls['site']}/**", timeout=20000)

    expect(page.locator("#checkout-notice")).to_contain_text(says)
    assert signup.focused_id() == "checkout-notice"
    assert "session_id=" not in page.url and key not in page.content()
    assert metered_call(dev_stack.urls["api"], key) == key_works
    assert page.locator("#resume").is_visible() is (key_works == 403)  # try another card
    assert page.evaluate(NO_HORIZONTAL_SCROLL) == 0
    assert signup.axe_violations() == []
    assert signup.console_errors == []
    signup.screenshot(f"40-past-due-card-{card.replace(' ', '-')}-{color_scheme}")
