"""StripeBilling on localstripe behind the bridge, what is particular to the adapter: the client's pinned
API version, retries and timeout, what a customer and a subscription carry in Stripe, an unreachable
Stripe, and an invoice paid between the listing and the payment. What the Billing port promises is in
tests/contract/test_billing.py."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from tollgate import contract
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_SECONDS, stripe_client
from tollgate.domain.billing_state import InvoicePayment
from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import Registrant

ANN = Registrant("ann@example.com", "Ann", "Lee")


@pytest.fixture
def billing(stripe_api, price_id) -> StripeBilling:
    return StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api))


def test_the_client_pins_the_api_version_and_bounds_retries_and_time(stripe_api):
    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)
    requestor = client._requestor

    assert requestor._options.stripe_version == contract.STRIPE_API_VERSION
    assert requestor._options.max_network_retries == STRIPE_MAX_NETWORK_RETRIES
    assert requestor._client._timeout == STRIPE_TIMEOUT_SECONDS == (2, 4)
    assert requestor.base_addresses["api"] == stripe_api


def test_a_customer_carries_the_key_id_and_a_subscription_the_price(billing, stripe_client, price_id):
    customer_id = billing.create_customer(ANN, "key-123", f"test-customer-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")

    customer = stripe_client.v1.customers.retrieve(customer_id)
    assert (customer.email, customer.name) == ("ann@example.com", "Ann Lee")
    assert customer.metadata.to_dict() == {contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID: "key-123"}
    subscription = stripe_client.v1.subscriptions.retrieve(subscription_id)
    assert subscription.customer == customer_id and subscription.status == "active"
    assert subscription["items"].data[0].price.id == price_id


def test_an_unreachable_stripe_is_a_retryable_downstream_error(price_id):
    billing = StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, "http://127.0.0.1:9"))

    with pytest.raises(DownstreamError) as raised:
        billing.create_customer(ANN, "key-3", f"test-customer-{uuid.uuid4()}")

    assert raised.value.retryable is True


def fall_behind(stripe_api: str, subscription_id: str, amount_due: int) -> str:
    """The bridge's hook (localdev/stripe_bridge/invoices.py): the subscription is past_due and owes
    an open invoice of `amount_due`; returns the invoice id."""
    request = urllib.request.Request(
        f"{stripe_api}/_bridge/subscriptions/{subscription_id}/past_due",
        data=json.dumps({"amount_due": amount_due}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["invoice"]["id"]


@pytest.fixture
def past_due_subscription(billing, stripe_client, stripe_api, price_id) -> tuple[str, str, list[str]]:
    """A customer's subscription that owes two open invoices: (customer, subscription, invoices oldest first)."""
    customer_id = billing.create_customer(ANN, "key-4", f"test-customer-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")
    invoices = [fall_behind(stripe_api, subscription_id, amount) for amount in (700, 500)]
    return customer_id, subscription_id, invoices


def save_card(client, customer_id: str, test_card: str) -> None:
    card = client.v1.payment_methods.attach(test_card, params={"customer": customer_id})
    client.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": card.id}})


def test_an_invoice_paid_meanwhile_is_skipped_not_an_error(stripe_api, price_id, past_due_subscription, monkeypatch):
    customer_id, subscription_id, invoices = past_due_subscription
    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)
    save_card(client, customer_id, "pm_card_visa")
    listed_then = client.v1.invoices.list({"customer": customer_id, "status": "open"})
    client.v1.invoices.pay(invoices[0])  # a concurrent settlement pays it after our listing
    monkeypatch.setattr(client.v1.invoices, "list", lambda *_args, **_kwargs: listed_then)

    payment = StripeBilling(lambda: client).pay_open_invoices(customer_id, f"test-settle-{uuid.uuid4()}")

    assert payment == InvoicePayment(paid=1)
    assert client.v1.subscriptions.retrieve(subscription_id).status == "active"
