"""LifecycleService on fakes: API Gateway is called only when the key may not match the row (its
management calls share an account-wide 10/s limit with sign-ups), and a key left unmatched by a crash
is repaired by the next event."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.clock import START
from testkit.world import World
from tollgate.domain.account import AccountStatus
from tollgate.domain.errors import DownstreamError
from tollgate.domain.lifecycle import (
    INVOICE_PAID,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    Outcome,
)

NOW = int(START)


def key_management_calls(world: World) -> int:
    return sum(world.api_keys.call_count(method) for method in ("attach_to_plan", "detach_from_plan", "set_enabled"))


def test_an_event_that_keeps_the_status_makes_no_api_gateway_call(world: World):
    """API Gateway's management calls share an account-wide 10/s limit with sign-ups."""
    ann = world.customer()
    calls_before = key_management_calls(world)

    assert world.stripe_sends(ann, INVOICE_PAID) is Outcome.APPLIED
    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert key_management_calls(world) == calls_before and world.key_works(ann)


def test_replayed_and_stale_events_make_no_api_gateway_call_once_the_key_matches(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "canceled")
    deleted = world.billing_event(ann, SUBSCRIPTION_DELETED, created=NOW)
    calls_before = key_management_calls(world)
    world.lifecycle.handle(deleted)
    assert key_management_calls(world) == calls_before + 1  # the one call that disables the key

    assert world.lifecycle.handle(deleted) is Outcome.DUPLICATE
    assert world.stripe_sends(ann, SUBSCRIPTION_UPDATED, created=NOW - 60) is Outcome.STALE

    assert key_management_calls(world) == calls_before + 1
    assert world.row(ann).keys_in_sync and not world.key_works(ann)


def test_the_first_event_after_a_sign_up_asserts_the_key_once(world: World):
    """A sign-up attaches the key alongside its last row write, so the row does not claim it matches."""
    ann = world.customer()
    world.accounts.rows[ann.email] = replace(world.row(ann), keys_synced_to=None)
    attached_before = world.api_keys.call_count("attach_to_plan")

    world.stripe_sends(ann, INVOICE_PAID)
    world.stripe_sends(ann, INVOICE_PAID)

    assert world.api_keys.call_count("attach_to_plan") == attached_before + 1
    assert world.api_keys.call_count("set_enabled") == 1
    assert world.row(ann).keys_in_sync


def test_a_crash_between_clearing_the_marker_and_the_key_call_is_repaired_by_the_next_event(world: World):
    ann = world.customer()
    world.set_stripe_status(ann, "past_due")
    world.api_keys.fail("set_enabled")

    with pytest.raises(DownstreamError):
        world.stripe_sends(ann, SUBSCRIPTION_UPDATED)
    assert world.row(ann).status is AccountStatus.SUSPENDED and not world.row(ann).keys_in_sync and world.key_works(ann)

    world.stripe_sends(ann, INVOICE_PAID)  # Stripe still says past_due: the status stays, the key is repaired

    assert not world.key_works(ann) and world.row(ann).keys_in_sync
