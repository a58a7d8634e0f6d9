"""The PaymentMethods port (tollgate.domain.ports.billing): FakePaymentMethods and StripePaymentMethods on
the Stripe bridge (its stand-in Checkout, gap 7) answer alike.

What "add a payment method" and the checkout webhook rely on: a setup-mode Checkout session opened for
a customer (the same one again for the same idempotency key) reads back open, then complete once the
customer went through it; the card its setup intent collected becomes the customer's default for
invoices (again: no error), a later Checkout's card replaces it, and a late delivery of an earlier one
does not bring the old card back; a session Tollgate did not open, or no session at all, reads None."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from testkit.clock import Clock
from testkit.fake_billing import FakeBilling, FakePaymentMethods
from tollgate.domain.errors import DownstreamError
from tollgate.domain.ports.billing import PaymentMethods

SUCCESS, CANCEL = "https://shop.example/account.html?card=added", "https://shop.example/account.html"
CARD = "pm_card_visa"  # Stripe's test card (https://docs.stripe.com/testing)


@dataclass
class Checkout:
    """The port, and the Stripe account around it: a customer, a customer going through a session's
    page (-> the session id, the setup intent and the card it collected), the customer's default card,
    and a setup session opened by someone else than Tollgate."""

    port: PaymentMethods
    new_customer: Callable[[], str]
    complete: Callable[[str], tuple[str, str, str]]
    default_card: Callable[[str], str | None]
    foreign_session: Callable[[str], str]


@pytest.fixture(scope="module", params=["fake", "stripe"])
def checkout(request) -> Iterator[Checkout]:
    if request.param == "fake":
        fake = FakePaymentMethods(FakeBilling())

        def complete(url: str) -> tuple[str, str, str]:
            session_id, setup_intent_id = fake.complete_checkout(url, f"pm_{uuid.uuid4().hex[:12]}")
            return session_id, setup_intent_id, fake.setup_intents[setup_intent_id]

        yield Checkout(
            fake,
            lambda: f"cus_{uuid.uuid4().hex[:14]}",
            complete,
            fake.default_payment_methods.get,
            lambda _customer: "cs_test_opened_elsewhere",
        )
        return
    yield bridged_checkout(request.getfixturevalue("stripe_api"))


def bridged_checkout(stripe_api: str) -> Checkout:
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from tollgate.adapters.stripe_checkout import StripePaymentMethods
    from tollgate.adapters.stripe_client import stripe_client

    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)

    def complete(url: str) -> tuple[str, str, str]:
        """The customer on the stand-in Checkout page (localdev/stripe_bridge/checkout.py)."""
        session_id = urllib.parse.urlsplit(url).path.rsplit("/", 1)[1]
        page = urllib.request.Request(
            f"{stripe_api}/_bridge/checkout/{session_id}/complete",
            method="POST",
            data=urllib.parse.urlencode({"payment_method": CARD}).encode(),
        )
        with urllib.request.urlopen(page, timeout=10) as answer:
            completed = json.loads(answer.read())
        return session_id, completed["setup_intent"], completed["payment_method"]

    def default_card(customer_id: str) -> str | None:
        card = client.v1.customers.retrieve(customer_id).invoice_settings.default_payment_method
        return card if card is None or isinstance(card, str) else card.id

    def foreign_session(customer_id: str) -> str:
        return client.v1.checkout.sessions.create(
            {"mode": "setup", "customer": customer_id, "currency": "usd", "success_url": SUCCESS}
        ).id

    return Checkout(
        StripePaymentMethods(lambda: client),
        lambda: client.v1.customers.create({"email": f"{uuid.uuid4().hex[:8]}@example.com"}).id,
        complete,
        default_card,
        foreign_session,
    )


def key() -> str:
    return f"contract-{uuid.uuid4()}"


def test_a_session_opened_for_a_customer_reads_open_and_its_idempotency_key_reopens_it(checkout):
    customer, opening = checkout.new_customer(), key()
    before = int(time.time())

    url = checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, opening)
    session_id, *_ = checkout.complete(checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, key()))

    assert checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, opening) == url
    opened = checkout.port.checkout_session(urllib.parse.urlsplit(url).path.rsplit("/", 1)[1])
    assert (opened.customer_id, opened.complete) == (customer, False) and abs(opened.created - before) <= 5
    assert checkout.port.checkout_session(session_id).complete is True


def test_the_card_a_completed_session_collected_becomes_the_default_once_or_twice(checkout):
    customer = checkout.new_customer()
    _, setup_intent, card = checkout.complete(checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, key()))
    assert checkout.default_card(customer) is None

    checkout.port.set_default_payment_method(customer, setup_intent)
    checkout.port.set_default_payment_method(customer, setup_intent)  # a redelivered webhook

    assert checkout.default_card(customer) == card


def test_a_later_checkouts_card_replaces_the_default(checkout):
    customer = checkout.new_customer()
    _, first, _ = checkout.complete(checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, key()))
    _, second, card = checkout.complete(checkout.port.create_setup_checkout(customer, SUCCESS, CANCEL, key()))

    checkout.port.set_default_payment_method(customer, first)
    checkout.port.set_default_payment_method(customer, second)

    assert checkout.default_card(customer) == card


def test_a_setup_intent_that_does_not_exist_is_refused(checkout):
    with pytest.raises(DownstreamError) as refused:
        checkout.port.set_default_payment_method(checkout.new_customer(), "seti_does_not_exist")

    assert refused.value.retryable is False


def test_a_session_tollgate_did_not_open_or_none_at_all_reads_none(checkout):
    assert checkout.port.checkout_session(checkout.foreign_session(checkout.new_customer())) is None
    assert checkout.port.checkout_session("cs_test_does_not_exist") is None


def test_on_the_fake_a_late_delivery_of_an_earlier_checkout_keeps_the_newer_card():
    """Stripe stamps a payment method's `created` to the second, so on the bridge this needs two cards a
    second apart: tests/lambda_src/integration/handlers/test_stripe_webhook.py holds StripePaymentMethods
    to it through the webhook."""
    clock = Clock()
    billing = FakeBilling()
    billing.clock = clock
    fake = FakePaymentMethods(billing)
    _, earlier = fake.complete_checkout(fake.create_setup_checkout("cus_1", SUCCESS, CANCEL, key()), "pm_old")
    clock.advance(60)
    _, newer = fake.complete_checkout(fake.create_setup_checkout("cus_1", SUCCESS, CANCEL, key()), "pm_new")

    fake.set_default_payment_method("cus_1", newer)
    fake.set_default_payment_method("cus_1", earlier)

    assert fake.default_payment_methods["cus_1"] == "pm_new"
