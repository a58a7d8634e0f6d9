"""LifecycleService on fakes (issue 11): a past-due customer who adds a card at Checkout has the open
invoices paid and the key back; a declined card says so; a replayed Checkout pays nothing twice."""

from __future__ import annotations

from testkit.clock import START
from testkit.world import World
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    INVOICE_PAYMENT_FAILED,
    Outcome,
)

NOW = int(START)


def past_due(world: World, owed: list[int]) -> Account:
    """A customer whose first usage invoice failed (no card yet): past_due, key disabled, invoices
    open; the card a Checkout will add is ready."""
    ann = world.customer(AccountStatus.SUSPENDED, "past_due")
    for amount in owed:
        world.billing.owe(ann.subscription_id, amount)
    world.payments.setup_intents["seti_new"] = "pm_new_card"
    return ann


def test_a_past_due_customer_who_adds_a_card_has_the_open_invoices_paid_and_the_key_back(world: World):
    ann = past_due(world, [1200, 300])

    outcome = world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert outcome is Outcome.APPLIED
    assert world.billing.paid_invoices == [(ann.subscription_id, 1200), (ann.subscription_id, 300)]
    assert (
        world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE and world.row(ann).cut_off_reason is None
    )


def test_an_unpaid_subscription_is_settled_the_same_way(world: World):
    ann = past_due(world, [500])
    world.set_stripe_status(ann, "unpaid")

    world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert world.billing.paid_invoices == [(ann.subscription_id, 500)] and world.key_works(ann)


def test_a_declined_card_keeps_the_account_suspended_and_says_so(world: World):
    ann = past_due(world, [1200])
    world.billing.declining_methods.add("pm_new_card")

    world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert not world.key_works(ann) and world.row(ann).status is AccountStatus.SUSPENDED
    assert world.row(ann).cut_off_reason == "The card added at checkout was declined: Your card was declined."
    assert [invoice["amount"] for invoice in world.billing.invoices if invoice["status"] == "open"] == [1200]


def test_the_row_names_the_checkout_session_it_applied_whatever_the_card_did(world: World):
    """The signup page back from Checkout waits for exactly this (tollgate.domain.checkout)."""
    paying, declining = past_due(world, [1200]), past_due(world, [1200])
    world.billing.declining_methods.add("pm_new_card")  # the second customer's card
    world.payments.setup_intents["seti_paying"] = "pm_paying_card"
    later_event = world.billing_event(paying, INVOICE_PAYMENT_FAILED, created=NOW + 5, failure_reason="Payment failed.")

    for customer, setup_intent in ((paying, "seti_paying"), (declining, "seti_new")):
        world.stripe_sends(
            customer,
            CHECKOUT_COMPLETED,
            checkout_mode="setup",
            setup_intent_id=setup_intent,
            checkout_session_id="cs_test_1",
        )
    world.lifecycle.handle(later_event)

    assert world.row(paying).status is AccountStatus.ACTIVE and world.row(declining).status is AccountStatus.SUSPENDED
    assert world.row(paying).last_checkout_session_id == world.row(declining).last_checkout_session_id == "cs_test_1"


def test_a_replayed_checkout_event_pays_nothing_twice(world: World):
    ann = past_due(world, [1200])
    event = world.billing_event(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    world.lifecycle.handle(event)
    assert world.lifecycle.handle(event) is Outcome.DUPLICATE

    assert world.billing.call_count("pay_open_invoices") == 1
