"""The CreditSales port (tollgate.domain.ports.billing): FakeCreditSales and StripeCreditSales on the Stripe
bridge (its stand-in Checkout in payment mode, gap 7) answer alike. A credit pack's session is opened for
the order's customer (the same one again for the same idempotency key), and once paid, the session its
webhook carries gives back the order that was sold, paid."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from testkit.fake_credits import FakeCreditSales
from tollgate.domain.billing_state import CreditPackOrder, CreditPackPayment
from tollgate.domain.ports.billing import CreditSales

SUCCESS, CANCEL = "https://shop.example/account?credits=success", "https://shop.example/account?credits=cancel"


@dataclass
class Sales:
    """The port, a new Stripe customer, and the customer paying on a session's page (-> what its webhook says)."""

    port: CreditSales
    new_customer: Callable[[], str]
    pay: Callable[[str], CreditPackPayment]


@pytest.fixture(scope="module", params=["fake", "stripe"])
def sales(request) -> Iterator[Sales]:
    if request.param == "fake":
        fake = FakeCreditSales()
        yield Sales(fake, lambda: f"cus_{uuid.uuid4().hex[:14]}", fake.pay)
        return
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from tollgate.adapters.stripe_client import stripe_client
    from tollgate.adapters.stripe_credit_sales import StripeCreditSales, credit_pack_payment

    stripe_api = request.getfixturevalue("stripe_api")
    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)

    def pay(url: str) -> CreditPackPayment:
        """The customer on the stand-in Checkout page (localdev/stripe_bridge/checkout.py)."""
        session_id = urllib.parse.urlsplit(url).path.rsplit("/", 1)[1]
        page = urllib.request.Request(f"{stripe_api}/_bridge/checkout/{session_id}/complete", method="POST", data=b"")
        with urllib.request.urlopen(page, timeout=10) as answer:
            completed = json.loads(answer.read())["session"]
        payment = credit_pack_payment(completed)
        assert payment is not None
        return payment

    yield Sales(
        StripeCreditSales(lambda: client),
        lambda: client.v1.customers.create({"email": f"{uuid.uuid4().hex[:8]}@example.com"}).id,
        pay,
    )


def order_for(customer_id: str) -> CreditPackOrder:
    return CreditPackOrder(f"acct_{uuid.uuid4().hex[:20]}", customer_id, "prepaid", "fifty", 55_000_000, 5_000, "usd")


def test_a_pack_session_is_opened_once_per_idempotency_key(sales):
    order, opening = order_for(sales.new_customer()), f"contract-{uuid.uuid4()}"

    url = sales.port.create_credit_checkout(order, SUCCESS, CANCEL, opening)

    assert sales.port.create_credit_checkout(order, SUCCESS, CANCEL, opening) == url
    assert sales.port.create_credit_checkout(order, SUCCESS, CANCEL, f"contract-{uuid.uuid4()}") != url


def test_the_paid_session_gives_back_the_order_sold(sales):
    order = order_for(sales.new_customer())

    payment = sales.pay(sales.port.create_credit_checkout(order, SUCCESS, CANCEL, f"contract-{uuid.uuid4()}"))

    assert payment.paid is True and payment.session_id.startswith("cs_test_")
    assert payment.order == order
