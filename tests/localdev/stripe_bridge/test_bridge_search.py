"""Gap 6 (localdev/stripe_bridge/search.py): customer search in Stripe's query language."""

from __future__ import annotations

import uuid

import pytest
import stripe
from bridge_support import unique_email


def test_search_finds_customers_by_email_and_metadata(stripe_client: stripe.StripeClient):
    email, marker = unique_email(), uuid.uuid4().hex
    customer = stripe_client.v1.customers.create(params={"email": email, "metadata": {"awsAPIKeyId": marker}})
    stripe_client.v1.customers.create(params={"email": unique_email(), "metadata": {"awsAPIKeyId": marker}})

    by_email = stripe_client.v1.customers.search(params={"query": f"email:'{email}'"})
    both = stripe_client.v1.customers.search(
        params={"query": f"metadata['awsAPIKeyId']:'{marker}' AND email:'{email}'"}
    )
    assert [c.id for c in by_email.data] == [c.id for c in both.data] == [customer.id]


def test_search_refuses_a_query_outside_the_subset_it_understands(stripe_client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.customers.search(params={"query": "email~'ada'"})
    assert raised.value.param == "query" and "field:'value'" in str(raised.value)
