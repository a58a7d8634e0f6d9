"""PaymentMethodCheckout with in-memory fakes: who may open a setup-mode Checkout, for whom, and
what the page back from it learns. (The endpoints themselves are in test_checkout_handler.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.fake_billing import FakePaymentMethods
from testkit.fake_ports import FakeAccounts, FakeKeyItems
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.billing_state import CheckoutOutcome
from tollgate.domain.checkout import OUTCOME_WINDOW_SECONDS, PaymentMethodCheckout
from tollgate.domain.errors import ApiKeyRejected, UnknownCheckoutSession
from tollgate.domain.key_items import KeyIssuer, KeyItem
from tollgate.domain.key_ring import KeyState
from tollgate.domain.models import IssuedKey

SIGNUP_URL = "https://signup.example.com/"


def holding_a_key(items: FakeKeyItems, account: Account) -> tuple[Account, IssuedKey]:
    """`account` with one key the customer holds, its item stored."""
    key, record = KeyIssuer().issue(1)
    account = account.with_first_key(record)
    items.put(KeyItem.of(account, record))
    return account, key


@pytest.fixture
def world():
    items, accounts, payments = FakeKeyItems(), FakeAccounts(), FakePaymentMethods()
    accounts.rows["ann@example.com"], key = holding_a_key(
        items,
        Account(
            email="ann@example.com",
            status=AccountStatus.AWAITING_PAYMENT_METHOD,
            api_key_id="key0001",
            customer_id="cus_ann",
            subscription_id="sub_ann",
        ),
    )
    accounts.rows["bob@example.com"], other = holding_a_key(
        items,
        Account(
            email="bob@example.com",
            status=AccountStatus.ACTIVE,
            api_key_id="key0002",
            customer_id="cus_bob",
            subscription_id="sub_bob",
        ),
    )
    checkout = PaymentMethodCheckout(accounts, items, payments, SIGNUP_URL)
    return checkout, key, other, accounts, payments


def test_the_keys_owner_gets_a_setup_session_for_their_own_customer(world):
    checkout, key, _, _, payments = world

    url = checkout.start(key.id, key.value, request_id="req-1")

    (session,) = payments.checkout_sessions.values()
    assert url == session["url"]
    assert session["customer"] == "cus_ann" and session["mode"] == "setup"
    assert session["success_url"] == SIGNUP_URL + "?checkout=success&session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == SIGNUP_URL + "?checkout=cancel"


def test_another_customers_key_value_is_rejected(world):
    checkout, key, other, _, payments = world

    with pytest.raises(ApiKeyRejected):
        checkout.start(key.id, other.value, request_id="req-1")
    assert payments.calls == []


def test_a_rotated_out_key_past_its_grace_is_rejected(world):
    checkout, key, _, accounts, payments = world
    row = accounts.rows["ann@example.com"]
    accounts.rows["ann@example.com"] = replace(row, keys=(replace(row.keys[0], state=KeyState.ROTATING_OUT, until=2),))

    with pytest.raises(ApiKeyRejected):
        checkout.start(key.id, key.value, request_id="req-1")
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
    items, accounts, payments = FakeKeyItems(), FakeAccounts(), FakePaymentMethods()
    accounts.rows["a@example.com"], key = holding_a_key(
        items, Account(email="a@example.com", status=AccountStatus.ACTIVE, api_key_id="key0001", customer_id="cus_a")
    )

    PaymentMethodCheckout(accounts, items, payments, "https://x.example/signup?lang=en").start(key.id, key.value, "r")

    (session,) = payments.checkout_sessions.values()
    assert (
        session["success_url"] == "https://x.example/signup?lang=en&checkout=success&session_id={CHECKOUT_SESSION_ID}"
    )


def back_from_checkout(world, **row_changes) -> str:
    """Ann opens Checkout and completes it; the row then looks like `row_changes` (what the webhook
    wrote, if it has run). Returns the session id Stripe puts in the return URL."""
    checkout, key, _, accounts, payments = world
    session_id, _ = payments.complete_checkout(checkout.start(key.id, key.value, request_id="req-1"), "pm_1")
    accounts.rows["ann@example.com"] = replace(accounts.rows["ann@example.com"], **row_changes)
    return session_id


def test_back_from_checkout_the_page_waits_while_the_webhook_is_in_flight(world):
    session_id = back_from_checkout(world)

    assert world[0].outcome(session_id) == CheckoutOutcome(settled=False)


def test_back_from_checkout_the_page_learns_the_account_is_active(world):
    session_id = back_from_checkout(world, status=AccountStatus.ACTIVE, last_checkout_session_id="cs_test_0001")

    assert world[0].outcome(session_id) == CheckoutOutcome(settled=True, status=AccountStatus.ACTIVE)


def test_back_from_checkout_the_page_learns_the_card_was_declined_and_why(world):
    declined = "The card added at checkout was declined: Your card was declined."
    session_id = back_from_checkout(
        world, status=AccountStatus.SUSPENDED, cut_off_reason=declined, last_checkout_session_id="cs_test_0001"
    )

    assert world[0].outcome(session_id) == CheckoutOutcome(True, AccountStatus.SUSPENDED, declined)


def test_an_earlier_checkout_of_the_same_account_is_not_this_ones_outcome(world):
    session_id = back_from_checkout(world, status=AccountStatus.ACTIVE, last_checkout_session_id="cs_test_older")

    assert world[0].outcome(session_id).settled is False


def test_a_session_still_open_is_not_settled(world):
    checkout, key, _, accounts, payments = world
    checkout.start(key.id, key.value, request_id="req-1")
    (session,) = payments.checkout_sessions.values()
    accounts.rows["ann@example.com"] = replace(accounts.rows["ann@example.com"], last_checkout_session_id=session["id"])

    assert checkout.outcome(session["id"]).settled is False


def test_an_unknown_or_old_session_tells_nothing(world):
    checkout, _, _, _, payments = world
    session_id = back_from_checkout(world, last_checkout_session_id="cs_test_0001")
    (session,) = payments.checkout_sessions.values()

    with pytest.raises(UnknownCheckoutSession):
        checkout.outcome("cs_test_unknown")
    session["created"] -= OUTCOME_WINDOW_SECONDS + 1
    with pytest.raises(UnknownCheckoutSession):
        checkout.outcome(session_id)


def test_a_session_whose_customer_has_no_account_tells_nothing(world):
    checkout, _, _, accounts, _ = world
    session_id = back_from_checkout(world)
    del accounts.rows["ann@example.com"]

    with pytest.raises(UnknownCheckoutSession):
        checkout.outcome(session_id)
