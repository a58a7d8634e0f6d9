"""Gap 7 (localdev/stripe_bridge/checkout.py): Checkout in setup and payment modes, its stand-in page and its
completion. (The page as a browser shows it: tests/site/test_checkout_page.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe
from bridge_support import WebhookReceiver, raw_post

from tollgate.contract import STRIPE_API_VERSION


def open_setup_session(client: stripe.StripeClient, customer: Any) -> Any:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer.id,
            "currency": "usd",
            "success_url": "http://127.0.0.1:8000/?checkout=done&session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://127.0.0.1:8000/?checkout=cancel",
        }
    )


def test_checkout_setup_session_points_at_a_page_on_the_bridge(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = open_setup_session(stripe_client, customer)

    assert session.id.startswith("cs_test_") and session.status == "open" and session.mode == "setup"
    assert session.url == f"{stripe_api}/_bridge/checkout/{session.id}"
    with urllib.request.urlopen(session.url, timeout=5) as page:
        html = page.read().decode()
    assert f'action="/_bridge/checkout/{session.id}/complete"' in html and ">Complete</button>" in html
    assert 'href="http://127.0.0.1:8000/?checkout=cancel"' in html and customer.id in html
    listed = stripe_client.v1.checkout.sessions.list(params={"customer": customer.id}).data
    assert [s.to_dict() for s in listed] == [session.to_dict()]


def test_checkout_completion_saves_a_card_and_sends_a_signed_completed_event(
    stripe_client: stripe.StripeClient,
    stripe_api: str,
    customer: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    session = open_setup_session(stripe_client, customer)

    status, _, body = raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {})
    assert status == 200
    deliveries = json.loads(body)["deliveries"]
    assert [d["status"] for d in deliveries if d["endpoint_id"] == webhook_endpoint.id] == [200]

    received = webhook_receiver.wait_for("checkout.session.completed", session.id)
    event = received.verified(webhook_endpoint.secret)
    completed = event.data.object
    assert completed.id == session.id and completed.mode == "setup" and completed.customer == customer.id
    assert event.api_version == STRIPE_API_VERSION
    setup_intent = stripe_client.v1.setup_intents.retrieve(completed.setup_intent)
    assert setup_intent.id.startswith("seti_") and setup_intent.status == "succeeded"
    cards = stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data
    assert [card.id for card in cards] == [setup_intent.payment_method]
    (refreshed,) = stripe_client.v1.checkout.sessions.list(params={"customer": customer.id}).data
    assert refreshed.status == "complete" and refreshed.setup_intent == setup_intent.id
    assert stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None


def test_checkout_page_form_completes_and_redirects_to_success_url(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = open_setup_session(stripe_client, customer)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    request = urllib.request.Request(
        f"{stripe_api}/_bridge/checkout/{session.id}/complete", data=b"redirect=true", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as redirected:
        urllib.request.build_opener(NoRedirect).open(request, timeout=5)
    assert redirected.value.code == 303
    assert redirected.value.headers["Location"] == f"http://127.0.0.1:8000/?checkout=done&session={session.id}"
    assert raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {})[0] == 400  # only once
    with urllib.request.urlopen(session.url, timeout=5) as page:
        assert "This session is complete" in page.read().decode()


def test_checkout_rejects_modes_other_than_setup_and_payment(stripe_client: stripe.StripeClient, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.checkout.sessions.create(
            params={"mode": "subscription", "customer": customer.id, "success_url": "http://127.0.0.1/ok"}
        )
    assert raised.value.param == "mode"


def open_payment_session(client: stripe.StripeClient, customer: Any, **extra: Any) -> Any:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "customer": customer.id,
            "success_url": "http://127.0.0.1:8000/account?credits=success",
            "cancel_url": "http://127.0.0.1:8000/account?credits=cancel",
            "metadata": {"tollgate": "credit-pack"},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1000,
                        "product_data": {"name": "API credit: 10.00 USD"},
                    },
                }
            ],
            **extra,
        }
    )


def test_checkout_payment_session_charges_its_total_and_sends_a_paid_completed_event(
    stripe_client: stripe.StripeClient,
    stripe_api: str,
    customer: Any,
    webhook_endpoint: Any,
    webhook_receiver: WebhookReceiver,
):
    session = open_payment_session(stripe_client, customer)
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert (session.amount_total, session.currency, session.payment_intent) == (1000, "usd", None)
    with urllib.request.urlopen(session.url, timeout=5) as page:
        html = page.read().decode()
    assert "API credit: 10.00 USD" in html and "10.00 USD" in html and ">Complete</button>" in html

    status, _, _ = raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {})

    assert status == 200
    completed = (
        webhook_receiver.wait_for("checkout.session.completed", session.id)
        .verified(webhook_endpoint.secret)
        .data.object
    )
    assert (completed.mode, completed.status, completed.payment_status) == ("payment", "complete", "paid")
    assert completed.metadata.to_dict() == {"tollgate": "credit-pack"} and completed.amount_total == 1000
    intent = stripe_client.v1.payment_intents.retrieve(completed.payment_intent)
    assert (intent.status, intent.amount, intent.customer) == ("succeeded", 1000, customer.id)


def test_checkout_payment_session_with_a_declined_card_stays_open_and_unpaid(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = open_payment_session(stripe_client, customer)

    status, _, body = raw_post(
        stripe_api, f"/_bridge/checkout/{session.id}/complete", {"payment_method": "pm_card_chargeCustomerFail"}
    )

    assert status == 402 and json.loads(body)["error"]["code"] == "card_declined"
    refreshed = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (refreshed.status, refreshed.payment_status) == ("open", "unpaid")


def test_checkout_payment_session_needs_one_inline_priced_line_item(stripe_client: stripe.StripeClient, customer: Any):
    for line_items in ([], [{"quantity": 1, "price": "price_123"}]):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            open_payment_session(stripe_client, customer, line_items=line_items)
        assert raised.value.param == "line_items"


def test_checkout_completion_can_save_a_card_that_declines_every_charge(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = open_setup_session(stripe_client, customer)
    with urllib.request.urlopen(session.url, timeout=5) as page:
        assert 'value="pm_card_chargeCustomerFail"' in page.read().decode()

    status, _, body = raw_post(
        stripe_api, f"/_bridge/checkout/{session.id}/complete", {"payment_method": "pm_card_chargeCustomerFail"}
    )

    assert status == 200
    card = stripe_client.v1.payment_methods.retrieve(json.loads(body)["payment_method"])
    assert card.customer == customer.id and card.card.last4 == "0341"
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_checkout_completion_refuses_a_card_it_does_not_offer(
    stripe_client: stripe.StripeClient, stripe_api: str, customer: Any
):
    session = open_setup_session(stripe_client, customer)

    status, _, body = raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {"payment_method": "pm_x"})

    assert status == 400 and json.loads(body)["error"]["param"] == "payment_method"
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "open"
