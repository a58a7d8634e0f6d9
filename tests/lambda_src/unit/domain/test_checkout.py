"""PaymentMethodCheckout with in-memory fakes: who may open a setup-mode Checkout, for whom.
(The endpoint itself is in test_checkout_handler.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest
from testkit.fake_ports import FakeAccounts, FakeApiKeys, FakePaymentMethods

from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.errors import ApiKeyRejected
from tollgate.domain.models import Account, AccountStatus

SIGNUP_URL = "https://signup.example.com/"


@pytest.fixture
def world():
    keys, accounts, payments = FakeApiKeys(), FakeAccounts(), FakePaymentMethods()
    key = keys.create_key("k", "d")
    other = keys.create_key("k2", "d")
    accounts.rows["ann@example.com"] = Account(
        email="ann@example.com", status=AccountStatus.AWAITING_PAYMENT_METHOD, api_key_id=key.id,
        customer_id="cus_ann", subscription_id="sub_ann")
    accounts.rows["bob@example.com"] = Account(
        email="bob@example.com", status=AccountStatus.ACTIVE, api_key_id=other.id,
        customer_id="cus_bob", subscription_id="sub_bob")
    checkout = PaymentMethodCheckout(accounts, keys, payments, SIGNUP_URL)
    return checkout, key, other, accounts, payments


def test_the_keys_owner_gets_a_setup_session_for_their_own_customer(world):
    checkout, key, _, _, payments = world

    url = checkout.start(key.id, key.value, request_id="req-1")

    (session,) = payments.checkout_sessions.values()
    assert url == session["url"]
    assert session["customer"] == "cus_ann" and session["mode"] == "setup"
    assert session["success_url"] == SIGNUP_URL + "?checkout=success"
    assert session["cancel_url"] == SIGNUP_URL + "?checkout=cancel"


def test_another_customers_key_value_is_rejected(world):
    checkout, key, other, _, payments = world

    with pytest.raises(ApiKeyRejected):
        checkout.start(key.id, other.value, request_id="req-1")
    assert payments.calls == []


def test_an_unknown_key_id_is_rejected(world):
    checkout, key, _, _, payments = world

    with pytest.raises(ApiKeyRejected):
        checkout.start("no-such-id", key.value, request_id="req-1")
    assert payments.calls == []


@pytest.mark.parametrize("status", [AccountStatus.PENDING, AccountStatus.FAILED])
def test_an_account_that_is_not_billable_is_rejected(world, status):
    checkout, key, _, accounts, payments = world
    accounts.rows["ann@example.com"] = replace(accounts.rows["ann@example.com"], status=status)

    with pytest.raises(ApiKeyRejected):
        checkout.start(key.id, key.value, request_id="req-1")
    assert payments.calls == []


def test_a_suspended_customer_may_fix_their_payment_method(world):
    checkout, key, _, accounts, payments = world
    accounts.rows["ann@example.com"] = replace(accounts.rows["ann@example.com"], status=AccountStatus.SUSPENDED)

    checkout.start(key.id, key.value, request_id="req-1")

    assert len(payments.checkout_sessions) == 1


def test_the_same_request_retried_opens_one_session(world):
    checkout, key, _, _, payments = world

    first = checkout.start(key.id, key.value, request_id="req-1")
    again = checkout.start(key.id, key.value, request_id="req-1")
    other = checkout.start(key.id, key.value, request_id="req-2")

    assert first == again != other
    assert len(payments.checkout_sessions) == 2


def test_return_urls_keep_a_query_the_signup_url_already_has():
    keys, accounts, payments = FakeApiKeys(), FakeAccounts(), FakePaymentMethods()
    key = keys.create_key("k", "d")
    accounts.rows["a@example.com"] = Account(email="a@example.com", status=AccountStatus.ACTIVE, api_key_id=key.id,
                                             customer_id="cus_a")

    PaymentMethodCheckout(accounts, keys, payments, "https://x.example/signup?lang=en").start(key.id, key.value, "r")

    (session,) = payments.checkout_sessions.values()
    assert session["success_url"] == "https://x.example/signup?lang=en&checkout=success"
