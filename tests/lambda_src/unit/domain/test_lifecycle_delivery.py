"""LifecycleService on fakes (issue 6): each event applied exactly once and in order whatever Stripe's
delivery does (replays, late and same-second events, retries after a failure, concurrent writers, rows
still being registered), and a bounded history."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.clock import START
from testkit.world import World
from tollgate.domain.account import HISTORY_LIMIT, AccountStatus
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    INVOICE_PAID,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    Outcome,
)

NOW = int(START)


def test_a_replayed_event_is_applied_once(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    event = world.billing_event(ann, SUBSCRIPTION_UPDATED)

    assert world.lifecycle.handle(event) is Outcome.APPLIED
    history = world.row(ann).history
    assert world.lifecycle.handle(event) is Outcome.DUPLICATE

    assert world.row(ann).history == history
    assert world.billing.call_count("subscription") == 1
    assert not world.key_works(ann)


def test_a_replay_of_an_older_event_is_recognised_by_its_recorded_id(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    first = world.billing_event(ann, SUBSCRIPTION_UPDATED, created=NOW)
    world.lifecycle.handle(first)
    world.set_stripe_status(ann, "active")
    world.stripe_sends(ann, INVOICE_PAID, created=NOW)  # same second: both are applied, newest recorded last

    assert world.lifecycle.handle(first) is Outcome.DUPLICATE
    assert world.key_works(ann)


def test_a_late_older_event_never_overrides_a_newer_one(world: World):
    """The out-of-order pair: deleted, then a late `updated` (active) created before it."""
    ann = world.customer()
    world.set_stripe_status(ann, "canceled")
    world.stripe_sends(ann, SUBSCRIPTION_DELETED, created=NOW)

    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW - 60) is Outcome.STALE

    assert not world.key_works(ann)
    assert world.row(ann).status is AccountStatus.CANCELED
    assert world.billing.call_count("subscription") == 1


def test_a_checkout_delivered_after_a_newer_event_still_sets_the_card_and_activates_the_waiting_key(world: World):
    """A completed Checkout is an action: it is never dropped as stale, yet it does not let
    older subscription events through either."""
    ann = world.customer(AccountStatus.AWAITING_PAYMENT_METHOD)
    world.payments.setup_intents["seti_1"] = "pm_card_visa"
    world.stripe_sends(ann, INVOICE_PAID, created=NOW)

    late_checkout = world.stripe_sends(
        ann, CHECKOUT_COMPLETED, created=NOW - 5, checkout_mode="setup", setup_intent_id="seti_1"
    )

    assert late_checkout is Outcome.APPLIED
    assert world.payments.default_payment_methods == {ann.customer_id: "pm_card_visa"}
    assert world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE
    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW - 1) is Outcome.STALE


def test_events_of_the_same_second_follow_stripes_current_status_not_delivery_order(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "canceled")
    world.stripe_sends(ann, SUBSCRIPTION_DELETED, created=NOW)

    world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW)  # stamped in the same second, delivered late

    assert not world.key_works(ann)


def test_a_stripe_failure_changes_nothing_and_the_retry_applies_the_event(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    world.billing.fail("subscription")
    event = world.billing_event(ann, SUBSCRIPTION_UPDATED)

    with pytest.raises(DownstreamError):
        world.lifecycle.handle(event)
    assert world.key_works(ann) and world.row(ann).status is AccountStatus.ACTIVE and not world.accounts.billing_events

    assert world.lifecycle.handle(event) is Outcome.APPLIED
    assert not world.key_works(ann)


def test_a_key_failure_after_the_row_was_written_is_repaired_by_stripes_retry(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    world.api_keys.fail("set_enabled")
    event = world.billing_event(ann, SUBSCRIPTION_UPDATED)

    with pytest.raises(DownstreamError):
        world.lifecycle.handle(event)
    assert world.row(ann).status is AccountStatus.SUSPENDED and world.key_works(ann)

    assert world.lifecycle.handle(event) is Outcome.DUPLICATE
    assert not world.key_works(ann)


def test_a_concurrent_row_change_is_retried_from_a_fresh_read(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    world.accounts.fail("update", error=ConcurrentUpdate("raced"))

    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert world.accounts.call_count("update") == 3  # the raced write, its retry, then the keys said to match
    assert not world.key_works(ann)


def test_a_newer_event_committed_between_our_write_and_our_key_call_wins(world: World):
    """Two deliveries in flight: ours (past_due) writes first; before it touches the key, a newer
    event re-activates the row. The key must end up following the newest row."""
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    set_enabled = world.api_keys.set_enabled

    def newer_event_lands_first(key_id, enabled):
        world.api_keys.set_enabled = set_enabled
        world.set_stripe_status(ann, "active")
        world.stripe_sends(ann, INVOICE_PAID, created=NOW + 1)
        set_enabled(key_id, enabled)

    world.api_keys.set_enabled = newer_event_lands_first  # type: ignore[method-assign]  # the fake, for this test

    world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW)

    assert world.row(ann).status is AccountStatus.ACTIVE
    assert world.key_works(ann)


def test_an_account_still_being_registered_asks_stripe_to_retry(world: World):
    ann = world.customer(AccountStatus.PENDING)
    world.accounts.rows[ann.email] = replace(world.row(ann), lease_expires_at=NOW + 60)

    with pytest.raises(ConcurrentUpdate):
        world.stripe_sends(ann, SUBSCRIPTION_DELETED)


def test_a_pending_row_whose_lease_ran_out_is_not_an_account_and_the_event_is_acknowledged(world: World):
    """Its sign-up crashed; a 409 would make Stripe retry every event of the customer for 3 days."""
    ann = world.customer(AccountStatus.PENDING)
    world.accounts.rows[ann.email] = replace(world.row(ann), lease_expires_at=NOW - 1)

    assert world.stripe_sends(ann, SUBSCRIPTION_DELETED) is Outcome.IGNORED
    assert world.row(ann).status is AccountStatus.PENDING and not world.accounts.billing_events


def test_a_failed_registration_is_left_to_the_failed_accounts_command(world: World):
    ann = world.customer(AccountStatus.FAILED)

    assert world.stripe_sends(ann, SUBSCRIPTION_DELETED) is Outcome.IGNORED


def test_history_keeps_the_latest_entries_only(world: World):
    ann = world.customer()
    for second in range(HISTORY_LIMIT + 5):
        world.set_stripe_status(ann, "past_due" if second % 2 else "active")
        world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW + second)

    assert len(world.row(ann).history) == HISTORY_LIMIT
    assert world.row(ann).history[-1].event_id == world.row(ann).last_billing_event_id
