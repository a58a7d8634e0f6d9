"""StripeBilling against localstripe behind the bridge (tests/conftest.py). The bridge covers
two localstripe gaps used here: `items[].price` on subscriptions and Idempotency-Key replay."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY

from tollgate import contract
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_SECONDS, stripe_client
from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import Registrant
from tollgate.domain.billing_state import InvoicePayment

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


def test_repeating_a_customer_create_with_its_idempotency_key_returns_that_customer_and_creates_no_other(
    billing, stripe_client
):
    """How a rollback learns the id of a customer whose create answered with a timeout or 5xx."""
    api_key_id, idempotency_key = f"key-{uuid.uuid4()}", f"test-customer-{uuid.uuid4()}"
    first = billing.create_customer(ANN, api_key_id, idempotency_key)  # its answer is "lost"

    repeated = billing.create_customer(ANN, api_key_id, idempotency_key)

    assert repeated == first
    query = f"metadata['{contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID}']:'{api_key_id}'"
    assert [customer.id for customer in stripe_client.v1.customers.search({"query": query})] == [first]


def test_undoing_twice_is_not_an_error(billing, stripe_client, price_id):
    customer_id = billing.create_customer(ANN, "key-2", f"test-customer-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")

    billing.cancel_subscription(subscription_id)
    billing.cancel_subscription(subscription_id)
    billing.delete_customer(customer_id)
    billing.delete_customer(customer_id)

    assert stripe_client.v1.subscriptions.retrieve(subscription_id).status == "canceled"


def test_a_refused_request_is_a_non_retryable_downstream_error(billing, price_id):
    with pytest.raises(DownstreamError) as raised:
        billing.subscribe("cus_does_not_exist", "price_none", f"test-subscription-{uuid.uuid4()}")

    assert raised.value.retryable is False and raised.value.service == "Stripe"


def test_an_unreachable_stripe_is_a_retryable_downstream_error(price_id):
    billing = StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, "http://127.0.0.1:9"))

    with pytest.raises(DownstreamError) as raised:
        billing.create_customer(ANN, "key-3", f"test-customer-{uuid.uuid4()}")

    assert raised.value.retryable is True


def test_customers_created_for_a_key_are_found_by_its_id(billing):
    customer_id = billing.create_customer(Registrant("found@example.com", "Ann", "Lee"), "keyFOUND1", "c-found-1")
    billing.create_customer(Registrant("other@example.com", "Bo", "Ng"), "keyOTHER1", "c-found-2")

    assert billing.find_customers_for_key("keyFOUND1") == [customer_id]
    assert billing.find_customers_for_key("keyNOBODY") == []


def fall_behind(stripe_api: str, subscription_id: str, amount_due: int) -> str:
    """The bridge's hook (localdev/stripe_bridge/invoices.py): the subscription is past_due and owes
    an open invoice of `amount_due`; returns the invoice id."""
    request = urllib.request.Request(f"{stripe_api}/_bridge/subscriptions/{subscription_id}/past_due",
                                     data=json.dumps({"amount_due": amount_due}).encode(), method="POST")
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


def test_paying_open_invoices_with_the_saved_card_settles_the_subscription(billing, stripe_client,
                                                                          past_due_subscription):
    customer_id, subscription_id, invoices = past_due_subscription
    assert billing.subscription_status(subscription_id) == "past_due"
    save_card(stripe_client, customer_id, "pm_card_visa")

    payment = billing.pay_open_invoices(customer_id, f"test-settle-{uuid.uuid4()}")

    assert payment == InvoicePayment(paid=2)
    assert [stripe_client.v1.invoices.retrieve(invoice).status for invoice in invoices] == ["paid", "paid"]
    assert billing.subscription_status(subscription_id) == "active"


def test_a_declined_card_pays_nothing_and_says_why(billing, stripe_client, past_due_subscription):
    customer_id, subscription_id, invoices = past_due_subscription
    save_card(stripe_client, customer_id, "pm_card_chargeCustomerFail")

    payment = billing.pay_open_invoices(customer_id, f"test-settle-{uuid.uuid4()}")

    assert payment == InvoicePayment(paid=0, declined="Your card was declined.")
    assert [stripe_client.v1.invoices.retrieve(invoice).status for invoice in invoices] == ["open", "open"]
    assert billing.subscription_status(subscription_id) == "past_due"


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


def test_open_invoices_are_the_customers_attempted_ones_of_any_subscription_ended_or_not(
        billing, stripe_client, stripe_api, price_id, past_due_subscription):
    """Money safety II, scenario 3: what the lifecycle suspends on, and the listing the reconciler pages."""
    customer_id, subscription_id, invoices = past_due_subscription
    ended = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")
    billing.cancel_subscription(ended)
    final = fall_behind(stripe_api, ended, 900)  # the ended subscription's final invoice failed

    owed = billing.open_invoices(customer_id)

    assert sorted((invoice.id, invoice.subscription_id, invoice.amount_due) for invoice in owed) == sorted([
        (invoices[0], subscription_id, 700), (invoices[1], subscription_id, 500), (final, ended, 900)])
    assert all(invoice.customer_id == customer_id for invoice in owed)
    listed = billing.list_open_invoices(None, 100)
    assert {invoice.id for invoice in owed} <= {invoice.id for invoice in listed.invoices}


def test_live_subscriptions_leave_ended_ones_out_and_a_cancel_is_final(billing, price_id):
    customer_id = billing.create_customer(ANN, "key-5", f"test-customer-{uuid.uuid4()}")
    kept = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")
    ended = billing.subscribe(customer_id, price_id, f"test-subscription-{uuid.uuid4()}")

    billing.cancel_subscription(ended)
    billing.cancel_subscription(ended)  # again: not an error

    live = billing.live_subscriptions(customer_id)
    assert [subscription.id for subscription in live] == [kept] and live[0].has_price(price_id)
    assert live[0].created > 0
