"""StripeBilling against localstripe behind the bridge (tests/conftest.py). The bridge covers
two localstripe gaps used here: `items[].price` on subscriptions and Idempotency-Key replay."""

from __future__ import annotations

import uuid

import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from tollgate import contract
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_SECONDS, stripe_client
from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import Registrant

ANN = Registrant("ann@example.com", "Ann", "Lee")


@pytest.fixture
def billing(stripe_api, price_id) -> StripeBilling:
    return StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api), price_id)


def test_the_client_pins_the_api_version_and_bounds_retries_and_time(stripe_api):
    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)
    requestor = client._requestor

    assert requestor._options.stripe_version == contract.STRIPE_API_VERSION
    assert requestor._options.max_network_retries == STRIPE_MAX_NETWORK_RETRIES
    assert requestor._client._timeout == STRIPE_TIMEOUT_SECONDS == (2, 4)
    assert requestor.base_addresses["api"] == stripe_api


def test_a_customer_carries_the_key_id_and_a_subscription_the_price(billing, stripe_client, price_id):
    customer_id = billing.create_customer(ANN, "key-123", f"test-customer-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, f"test-subscription-{uuid.uuid4()}")

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


def test_undoing_twice_is_not_an_error(billing, stripe_client):
    customer_id = billing.create_customer(ANN, "key-2", f"test-customer-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, f"test-subscription-{uuid.uuid4()}")

    billing.cancel_subscription(subscription_id)
    billing.cancel_subscription(subscription_id)
    billing.delete_customer(customer_id)
    billing.delete_customer(customer_id)

    assert stripe_client.v1.subscriptions.retrieve(subscription_id).status == "canceled"


def test_a_refused_request_is_a_non_retryable_downstream_error(billing):
    with pytest.raises(DownstreamError) as raised:
        billing.subscribe("cus_does_not_exist", f"test-subscription-{uuid.uuid4()}")

    assert raised.value.retryable is False and raised.value.service == "Stripe"


def test_an_unreachable_stripe_is_a_retryable_downstream_error(price_id):
    billing = StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, "http://127.0.0.1:9"), price_id)

    with pytest.raises(DownstreamError) as raised:
        billing.create_customer(ANN, "key-3", f"test-customer-{uuid.uuid4()}")

    assert raised.value.retryable is True


def test_customers_created_for_a_key_are_found_by_its_id(billing):
    customer_id = billing.create_customer(Registrant("found@example.com", "Ann", "Lee"), "keyFOUND1", "c-found-1")
    billing.create_customer(Registrant("other@example.com", "Bo", "Ng"), "keyOTHER1", "c-found-2")

    assert billing.find_customers_for_key("keyFOUND1") == [customer_id]
    assert billing.find_customers_for_key("keyNOBODY") == []
