"""LifecycleService on fakes (issue 6): what each Stripe event does to the account's status and key,
a cut-off's reason, and a cancellation that is final. Exactly-once and ordering: test_lifecycle_delivery.py.

The webhook handler tests (test_stripe_webhook.py) repeat the important cases through signed
events, the real adapters, moto and the Stripe bridge."""

from __future__ import annotations

import pytest

from testkit.clock import START
from testkit.world import World
from tollgate.domain.account import AccountStatus, StatusChange
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    Outcome,
)

NOW = int(START)


@pytest.mark.parametrize(
    "status, account_status",
    [
        ("past_due", AccountStatus.SUSPENDED),
        ("unpaid", AccountStatus.SUSPENDED),
        ("paused", AccountStatus.SUSPENDED),
        ("canceled", AccountStatus.CANCELED),
        ("incomplete_expired", AccountStatus.CANCELED),
    ],
)
def test_a_subscription_that_stops_paying_disables_the_key(world: World, status, account_status):
    ann = world.customer()
    world.set_stripe_status(ann, status)

    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert not world.key_works(ann)
    assert world.row(ann).status is account_status
    assert world.row(ann).cut_off_reason == f"The subscription is {status.replace('_', ' ')}."
    assert world.row(ann).history[-1] == StatusChange(
        NOW, account_status, SUBSCRIPTION_UPDATED, world.row(ann).last_billing_event_id
    )


@pytest.mark.parametrize("status", ["active", "trialing"])
def test_a_subscription_back_in_good_standing_enables_the_key_again(world: World, status):
    ann = world.customer(AccountStatus.SUSPENDED, "past_due")
    world.set_stripe_status(ann, status)

    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert world.key_works(ann)
    assert world.row(ann).status is AccountStatus.ACTIVE


def test_an_incomplete_subscription_changes_nothing(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "incomplete")

    world.stripe_sends(ann, SUBSCRIPTION_UPDATED)

    assert world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE


def test_a_deleted_subscription_disables_the_key(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "canceled")

    assert world.stripe_sends(ann, SUBSCRIPTION_DELETED) is Outcome.APPLIED

    assert not world.key_works(ann)
    assert world.row(ann).status is AccountStatus.CANCELED


def test_a_paid_invoice_re_enables_a_suspended_key(world: World):
    ann = world.customer(AccountStatus.SUSPENDED, "active")

    assert world.stripe_sends(ann, INVOICE_PAID) is Outcome.APPLIED

    assert world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE


def test_a_paid_invoice_of_a_subscription_cancelled_meanwhile_does_not_re_enable_the_key(world: World):
    ann = world.customer(AccountStatus.SUSPENDED, "canceled")

    world.stripe_sends(ann, INVOICE_PAID)

    assert not world.key_works(ann) and world.row(ann).status is AccountStatus.CANCELED


def test_a_paid_invoice_without_a_subscription_id_is_matched_by_customer(world: World):
    ann = world.customer(AccountStatus.SUSPENDED)

    assert world.stripe_sends(ann, INVOICE_PAID, subscription_id=None) is Outcome.APPLIED

    assert world.key_works(ann)


def test_completed_setup_checkout_sets_the_default_payment_method_and_activates_a_waiting_key(world: World):
    ann = world.customer(AccountStatus.AWAITING_PAYMENT_METHOD)
    world.payments.setup_intents["seti_1"] = "pm_card_visa"
    assert not world.key_works(ann)

    outcome = world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_1")

    assert outcome is Outcome.APPLIED
    assert world.payments.default_payment_methods == {ann.customer_id: "pm_card_visa"}
    assert world.key_works(ann)
    assert world.row(ann).status is AccountStatus.ACTIVE


def test_completed_setup_checkout_on_an_active_account_only_sets_the_payment_method(world: World):
    ann = world.customer()
    world.payments.setup_intents["seti_1"] = "pm_card_visa"

    world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_1")

    assert world.payments.default_payment_methods[ann.customer_id] == "pm_card_visa"
    assert world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE


def test_a_good_standing_subscription_does_not_activate_a_key_still_waiting_for_a_payment_method(world: World):
    ann = world.customer(AccountStatus.AWAITING_PAYMENT_METHOD)

    world.stripe_sends(ann, INVOICE_PAID)
    world.stripe_sends(ann, SUBSCRIPTION_UPDATED)

    assert not world.key_works(ann)
    assert world.row(ann).status is AccountStatus.AWAITING_PAYMENT_METHOD


def test_checkout_in_another_mode_is_ignored(world: World):
    ann = world.customer(AccountStatus.AWAITING_PAYMENT_METHOD)

    assert world.stripe_sends(ann, CHECKOUT_COMPLETED, checkout_mode="payment") is Outcome.IGNORED

    assert world.payments.calls == [] and world.billing.calls == [] and not world.key_works(ann)


def test_an_unknown_event_type_is_ignored_without_touching_anything(world: World):
    ann = world.customer()

    assert world.stripe_sends(ann, "customer.created") is Outcome.IGNORED

    assert world.accounts.calls == [] and world.api_keys.call_count("set_enabled") == 0


def test_an_event_about_a_subscription_tollgate_does_not_know_is_ignored(world: World):
    ann = world.customer()

    assert (
        world.stripe_sends(ann, SUBSCRIPTION_DELETED, subscription_id="sub_other", customer_id="cus_other")
        is Outcome.IGNORED
    )
    assert world.key_works(ann)


def test_an_older_subscription_of_the_same_customer_does_not_move_the_key(world: World):
    ann = world.customer()
    world.billing.put_subscription("sub_old", ann.customer_id, "canceled")

    assert world.stripe_sends(ann, SUBSCRIPTION_DELETED, subscription_id="sub_old") is Outcome.IGNORED
    assert world.key_works(ann)


def test_a_failed_payment_records_why_the_account_is_cut_off(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    reason = (
        "Payment of invoice TG-0001 (12.00 USD) failed (attempt 1). "
        "Stripe will not retry it: add or update the payment method."
    )

    world.stripe_sends(ann, INVOICE_PAYMENT_FAILED, failure_reason=reason)

    assert not world.key_works(ann) and world.row(ann).status is AccountStatus.SUSPENDED
    assert world.row(ann).cut_off_reason == reason


def test_a_canceled_account_stays_canceled_whatever_comes_later(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "canceled")
    world.stripe_sends(ann, SUBSCRIPTION_DELETED)

    world.set_stripe_status(ann, "active")  # a late, stray status: a canceled subscription is final
    world.stripe_sends(ann, INVOICE_PAID, created=NOW + 5)

    assert world.row(ann).status is AccountStatus.CANCELED and not world.key_works(ann)
