"""The Billing port (tollgate.domain.ports.billing): FakeBilling and StripeBilling on the Stripe bridge
answer alike.

What sign-up, its rollback, the billing lifecycle, plan changes and the reconciler rely on: a create
repeated with its idempotency key returns what the first one created (the same key with other
arguments is refused); undoing (deleting a customer, cancelling a subscription) can be repeated; a
plan change adds the new price as an item beside the old ones until they are dropped, and refuses a
price on the meter of another item; subscriptions and open invoices are listed newest first, a
customer's open invoices oldest first; a saved card pays them oldest first and a declined one pays
nothing. What is particular to StripeBilling (the client's pinned version, timeouts, an invoice paid
between the listing and the payment) is tests/lambda_src/integration/adapters/test_stripe_billing.py's."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from testkit.fake_billing import FakeBilling
from tollgate.domain.billing_state import InvoicePayment
from tollgate.domain.errors import ConfigurationError, DownstreamError
from tollgate.domain.models import Registrant
from tollgate.domain.ports.billing import Billing

ANN = Registrant("ann@example.com", "Ann", "Lee")
PAYS, DECLINES = "pm_card_visa", "pm_card_chargeCustomerFail"  # Stripe's test cards (https://docs.stripe.com/testing)


@dataclass
class Stripe:
    """The port on a Stripe account with two paid plans' prices (each on its own meter), and what
    happens there without Tollgate: a price made on an item's meter, a renewal that fails, a saved card."""

    port: Billing
    price: str
    other_price: str
    price_on_the_meter_of: Callable[[str], str]
    fall_behind: Callable[[str, int], str]  # (subscription, amount due) -> the open invoice's id
    save_card: Callable[[str, str], None]  # (customer, PAYS or DECLINES)


@pytest.fixture(scope="module", params=["fake", "stripe"])
def stripe(request) -> Iterator[Stripe]:
    if request.param == "fake":
        yield fake_stripe()
        return
    yield bridged_stripe(
        request.getfixturevalue("stripe_api"),
        request.getfixturevalue("price_id"),
        request.getfixturevalue("second_price_id"),
    )


def fake_stripe() -> Stripe:
    fake = FakeBilling()
    fake.declining_methods.add(DECLINES)

    def price_on_the_meter_of(price: str) -> str:
        same = f"price_{uuid.uuid4().hex[:10]}"
        fake.meters[same] = fake.meters.get(price, price)
        return same

    return Stripe(
        fake,
        "price_1",
        "price_pro",
        price_on_the_meter_of,
        fake.owe,
        lambda customer, card: fake.default_payment_methods.__setitem__(customer, card),
    )


def bridged_stripe(stripe_api: str, price_id: str, second_price_id: str) -> Stripe:
    import json
    import urllib.request

    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from tollgate.adapters.stripe_billing import StripeBilling
    from tollgate.adapters.stripe_client import stripe_client

    client = stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)

    def price_on_the_meter_of(price: str) -> str:
        existing = client.v1.prices.retrieve(price)
        return client.v1.prices.create(
            {
                "currency": "usd",
                "product": str(existing.product),
                "unit_amount_decimal": Decimal("0.3"),
                "recurring": {"interval": "month", "usage_type": "metered", "meter": existing.recurring.meter},
            }
        ).id

    def fall_behind(subscription_id: str, amount_due: int) -> str:
        """The bridge's hook (localdev/stripe_bridge/invoices.py): a renewal (or final) invoice failed."""
        hook = urllib.request.Request(
            f"{stripe_api}/_bridge/subscriptions/{subscription_id}/past_due",
            data=json.dumps({"amount_due": amount_due}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(hook, timeout=10) as answer:
            return json.loads(answer.read())["invoice"]["id"]

    def save_card(customer_id: str, test_card: str) -> None:
        card = client.v1.payment_methods.attach(test_card, {"customer": customer_id})
        client.v1.customers.update(customer_id, {"invoice_settings": {"default_payment_method": card.id}})

    return Stripe(
        StripeBilling(lambda: client), price_id, second_price_id, price_on_the_meter_of, fall_behind, save_card
    )


def key() -> str:
    return f"contract-{uuid.uuid4()}"


def api_key_id() -> str:
    return f"key{uuid.uuid4().hex[:10]}"


def subscribed(stripe: Stripe) -> tuple[str, str]:
    """(customer, subscription) on the first paid plan's price."""
    customer = stripe.port.create_customer(ANN, api_key_id(), key())
    return customer, stripe.port.subscribe(customer, stripe.price, key())


# --- customers and subscriptions ----------------------------------------------------------------


def test_a_customer_is_found_by_the_key_its_metadata_names(stripe):
    named = api_key_id()
    customer = stripe.port.create_customer(ANN, named, key())
    stripe.port.create_customer(Registrant("bo@example.com", "Bo", "Ng"), api_key_id(), key())

    assert stripe.port.find_customers_for_key(named) == [customer]
    assert stripe.port.find_customers_for_key(api_key_id()) == []


def test_a_create_repeated_with_its_idempotency_key_returns_what_the_first_created_and_nothing_more(stripe):
    """How a rollback learns the id of a create whose answer was lost (a timeout, a 5xx)."""
    named, customer_key, subscription_key = api_key_id(), key(), key()
    customer = stripe.port.create_customer(ANN, named, customer_key)
    subscription = stripe.port.subscribe(customer, stripe.price, subscription_key)

    assert stripe.port.create_customer(ANN, named, customer_key) == customer
    assert stripe.port.subscribe(customer, stripe.price, subscription_key) == subscription
    assert stripe.port.find_customers_for_key(named) == [customer]
    assert [state.id for state in stripe.port.live_subscriptions(customer)] == [subscription]


def test_an_idempotency_key_reused_with_other_arguments_is_refused(stripe):
    reused = key()
    stripe.port.create_customer(ANN, api_key_id(), reused)

    with pytest.raises(DownstreamError) as refused:
        stripe.port.create_customer(Registrant("bo@example.com", "Bo", "Ng"), api_key_id(), reused)

    assert refused.value.retryable is False


def test_subscribing_a_customer_that_does_not_exist_is_refused(stripe):
    with pytest.raises(DownstreamError) as refused:
        stripe.port.subscribe("cus_does_not_exist", stripe.price, key())

    assert refused.value.retryable is False


def test_a_subscription_is_read_as_stripe_has_it_and_an_unknown_one_is_refused(stripe):
    customer, subscription_id = subscribed(stripe)

    state = stripe.port.subscription(subscription_id)

    assert (state.id, state.customer_id, state.status, state.cancel_at_period_end) == (
        subscription_id,
        customer,
        "active",
        False,
    )
    assert [item.price_id for item in state.items] == [stripe.price] and state.has_price(stripe.price)
    assert state.period_start > 0 and state.created > 0 and state.items[0].created > 0
    assert 28 * 86400 <= state.period_end - state.period_start <= 31 * 86400  # a monthly price's period
    assert stripe.port.subscription_status(subscription_id) == "active"
    for read in (stripe.port.subscription, stripe.port.subscription_status):
        with pytest.raises(DownstreamError) as refused:
            read("sub_does_not_exist")
        assert refused.value.retryable is False


def test_a_cancel_is_immediate_final_and_can_be_repeated_and_live_ones_are_listed_newest_first(stripe):
    customer, kept = subscribed(stripe)
    newer = stripe.port.subscribe(customer, stripe.price, key())
    ended = stripe.port.subscribe(customer, stripe.price, key())

    stripe.port.cancel_subscription(ended)
    stripe.port.cancel_subscription(ended)  # again: not an error

    assert stripe.port.subscription_status(ended) == "canceled"
    assert [state.id for state in stripe.port.live_subscriptions(customer)] == [newer, kept]


def test_deleting_a_customer_cancels_its_subscriptions_and_can_be_repeated(stripe):
    customer, subscription_id = subscribed(stripe)

    stripe.port.delete_customer(customer)
    stripe.port.delete_customer(customer)  # a rollback that runs twice

    assert stripe.port.subscription_status(subscription_id) == "canceled"


# --- plan changes -------------------------------------------------------------------------------


def test_switching_adds_the_new_price_beside_the_old_and_switching_again_changes_nothing(stripe):
    _, subscription_id = subscribed(stripe)

    stripe.port.switch_price(subscription_id, stripe.other_price, key())
    switched = stripe.port.subscription(subscription_id)
    stripe.port.switch_price(subscription_id, stripe.other_price, key())

    assert [item.price_id for item in switched.items] == [stripe.price, stripe.other_price]
    assert switched.status == "active" and stripe.port.subscription(subscription_id) == switched


def test_a_price_on_the_meter_of_another_item_is_refused_naming_both(stripe):
    _, subscription_id = subscribed(stripe)
    same_meter = stripe.price_on_the_meter_of(stripe.price)

    with pytest.raises(ConfigurationError) as refused:
        stripe.port.switch_price(subscription_id, same_meter, key())

    assert same_meter in str(refused.value) and stripe.price in str(refused.value)
    assert [item.price_id for item in stripe.port.subscription(subscription_id).items] == [stripe.price]


def test_dropping_keeps_only_the_plans_price_and_dropping_again_drops_nothing(stripe):
    _, subscription_id = subscribed(stripe)
    stripe.port.switch_price(subscription_id, stripe.other_price, key())

    assert stripe.port.drop_prices_except(subscription_id, stripe.other_price) == (stripe.price,)
    assert stripe.port.drop_prices_except(subscription_id, stripe.other_price) == ()
    assert [item.price_id for item in stripe.port.subscription(subscription_id).items] == [stripe.other_price]


@pytest.mark.parametrize("back_to", ["the same price", "another price"])
def test_a_subscription_ending_at_its_period_end_stays_active_until_then_and_a_switch_resumes_it(stripe, back_to):
    _, subscription_id = subscribed(stripe)

    stripe.port.end_at_period_end(subscription_id)  # a change to a free plan
    ending = stripe.port.subscription(subscription_id)
    stripe.port.switch_price(
        subscription_id, stripe.price if back_to == "the same price" else stripe.other_price, key()
    )

    assert (ending.status, ending.cancel_at_period_end) == ("active", True)
    assert stripe.port.subscription(subscription_id).cancel_at_period_end is False


def test_the_listing_pages_every_subscription_newest_first_ended_ones_included(stripe):
    customer, oldest = subscribed(stripe)
    middle, newest = (stripe.port.subscribe(customer, stripe.price, key()) for _ in range(2))
    stripe.port.cancel_subscription(middle)
    stripe.port.end_at_period_end(newest)

    first = stripe.port.list_subscriptions(None, 2)
    second = stripe.port.list_subscriptions(middle, 1)

    assert [state.id for state in first.subscriptions] == [newest, middle] and first.has_more
    assert first.subscriptions == (stripe.port.subscription(newest), stripe.port.subscription(middle))
    assert first.subscriptions[1].status == "canceled" and first.subscriptions[0].cancel_at_period_end
    assert [state.id for state in second.subscriptions] == [oldest]


# --- what a customer owes -------------------------------------------------------------------------


@pytest.fixture
def owing(stripe) -> tuple[str, str, list[str]]:
    """A customer whose subscription's renewals failed twice: (customer, subscription, invoices oldest first)."""
    customer, subscription_id = subscribed(stripe)
    return customer, subscription_id, [stripe.fall_behind(subscription_id, amount) for amount in (700, 500)]


def test_a_customers_open_invoices_are_those_of_any_subscription_ended_or_not_oldest_first(stripe, owing):
    """What the lifecycle suspends on (money safety II, scenario 3)."""
    customer, subscription_id, invoices = owing
    ended = stripe.port.subscribe(customer, stripe.price, key())
    stripe.port.cancel_subscription(ended)
    final = stripe.fall_behind(ended, 900)  # the ended subscription's final invoice failed

    owed = stripe.port.open_invoices(customer)

    assert [(invoice.id, invoice.subscription_id, invoice.amount_due) for invoice in owed] == [
        (invoices[0], subscription_id, 700),
        (invoices[1], subscription_id, 500),
        (final, ended, 900),
    ]
    assert {(invoice.customer_id, invoice.currency) for invoice in owed} == {(customer, "usd")}
    assert stripe.port.subscription_status(subscription_id) == "past_due"


def test_the_open_invoices_of_the_stripe_account_are_paged_newest_first(stripe, owing):
    _, _, invoices = owing

    first, second = stripe.port.list_open_invoices(None, 1), stripe.port.list_open_invoices(invoices[1], 1)

    assert [invoice.id for invoice in first.invoices] == [invoices[1]] and first.has_more
    assert [invoice.id for invoice in second.invoices] == [invoices[0]]


def test_a_saved_card_pays_every_open_invoice_and_the_subscription_is_active_again(stripe, owing):
    customer, subscription_id, _ = owing
    stripe.save_card(customer, PAYS)

    assert stripe.port.pay_open_invoices(customer, key()) == InvoicePayment(paid=2)

    assert stripe.port.open_invoices(customer) == ()
    assert stripe.port.subscription_status(subscription_id) == "active"


def test_a_declined_card_pays_nothing_and_says_why(stripe, owing):
    customer, subscription_id, invoices = owing
    stripe.save_card(customer, DECLINES)

    assert stripe.port.pay_open_invoices(customer, key()) == InvoicePayment(paid=0, declined="Your card was declined.")

    assert [invoice.id for invoice in stripe.port.open_invoices(customer)] == invoices
    assert stripe.port.subscription_status(subscription_id) == "past_due"


def test_paying_without_a_saved_card_is_refused_not_declined(stripe, owing):
    """No payment method is not a card's decline: Stripe refuses the request ("This customer has no
    attached payment source or default payment method.", an invalid_request_error, not a card_error:
    https://docs.stripe.com/api/errors?api-version=2025-04-30.basil)."""
    customer, _, invoices = owing

    with pytest.raises(DownstreamError) as refused:
        stripe.port.pay_open_invoices(customer, key())

    assert refused.value.retryable is False
    assert [invoice.id for invoice in stripe.port.open_invoices(customer)] == invoices
