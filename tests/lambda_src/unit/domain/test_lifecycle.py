"""LifecycleService with in-memory fakes: every rule of issue 6, exactly-once and order safety.

The webhook handler tests (test_stripe_webhook.py) repeat the important cases through signed
events, the real adapters, moto and the Stripe bridge."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from testkit import world as deployment
from testkit.fake_ports import TEST_PLANS
from tollgate.domain.account import HISTORY_LIMIT, Account, AccountStatus, StatusChange
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    Outcome,
)

NOW = 1_800_000_000
EMAIL = "ann@example.com"
_event_ids = itertools.count(1)


class World:
    """One registered customer: key, Stripe customer and subscription, account row."""

    def __init__(self, status: AccountStatus = AccountStatus.ACTIVE, subscription_status: str = "active"):
        self.deployment = deployment.World.create(start=NOW)
        self.keys, self.billing, self.accounts = self.deployment.api_keys, self.deployment.billing, self.deployment.accounts
        self.payments, self.metrics = self.deployment.payments, self.deployment.metrics
        self.key = self.keys.create_key("k", "d")
        if status is AccountStatus.ACTIVE:
            self.keys.attach_to_plan(self.key.id, TEST_PLANS.default.usage_plan_id)
        self.customer_id = "cus_ann"
        self.subscription_id = "sub_ann"
        self.billing.customers[self.customer_id] = {"email": EMAIL, "metadata": {}}
        self.billing.subscriptions[self.subscription_id] = {
            "customer": self.customer_id, "status": subscription_status, "created": NOW - 100,
            "items": [(TEST_PLANS.default.price_id, NOW - 100)], "period_start": NOW - 100,
            "cancel_at_period_end": False}
        self.accounts.rows[EMAIL] = Account(
            email=EMAIL,
            status=status,
            api_key_id=self.key.id,
            customer_id=self.customer_id,
            subscription_id=self.subscription_id,
            history=(StatusChange(NOW - 100, status, "sign-up"),),
        ).with_keys_synced()  # an earlier event made the keys match, as tests set it up
        self.service = self.deployment.lifecycle

    def set_subscription_status(self, status: str) -> None:
        self.billing.subscriptions[self.subscription_id]["status"] = status

    def event(self, type_: str, created: int = NOW, **fields) -> BillingEvent:
        defaults = {"customer_id": self.customer_id}
        if type_ != CHECKOUT_COMPLETED:
            defaults["subscription_id"] = self.subscription_id
        return BillingEvent(id=f"evt_{next(_event_ids)}", type=type_, created=created, **(defaults | fields))

    def handle(self, type_: str, created: int = NOW, **fields) -> Outcome:
        return self.service.handle(self.event(type_, created, **fields))

    @property
    def row(self) -> Account:
        return self.accounts.rows[EMAIL]

    @property
    def key_works(self) -> bool:
        return self.keys.can_call_api(self.key.id)


@pytest.mark.parametrize("status, account_status", [
    ("past_due", AccountStatus.SUSPENDED), ("unpaid", AccountStatus.SUSPENDED), ("paused", AccountStatus.SUSPENDED),
    ("canceled", AccountStatus.CANCELED), ("incomplete_expired", AccountStatus.CANCELED),
])
def test_a_subscription_that_stops_paying_disables_the_key(status, account_status):
    world = World()
    world.set_subscription_status(status)

    assert world.handle(SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert not world.key_works
    assert world.row.status is account_status
    assert world.row.cut_off_reason == f"The subscription is {status.replace('_', ' ')}."
    assert world.row.history[-1] == StatusChange(
        NOW, account_status, SUBSCRIPTION_UPDATED, world.row.last_billing_event_id)


@pytest.mark.parametrize("status", ["active", "trialing"])
def test_a_subscription_back_in_good_standing_enables_the_key_again(status):
    world = World(AccountStatus.SUSPENDED, subscription_status="past_due")
    world.keys.set_enabled(world.key.id, False)
    world.set_subscription_status(status)

    assert world.handle(SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert world.key_works
    assert world.row.status is AccountStatus.ACTIVE


def test_an_incomplete_subscription_changes_nothing():
    world = World()
    world.set_subscription_status("incomplete")

    world.handle(SUBSCRIPTION_UPDATED)

    assert world.key_works and world.row.status is AccountStatus.ACTIVE


def test_a_deleted_subscription_disables_the_key():
    world = World()
    world.set_subscription_status("canceled")

    assert world.handle(SUBSCRIPTION_DELETED) is Outcome.APPLIED

    assert not world.key_works
    assert world.row.status is AccountStatus.CANCELED


def test_a_paid_invoice_re_enables_a_suspended_key():
    world = World(AccountStatus.SUSPENDED, subscription_status="active")
    world.keys.set_enabled(world.key.id, False)

    assert world.handle(INVOICE_PAID) is Outcome.APPLIED

    assert world.key_works and world.row.status is AccountStatus.ACTIVE


def test_a_paid_invoice_of_a_subscription_cancelled_meanwhile_does_not_re_enable_the_key():
    world = World(AccountStatus.SUSPENDED, subscription_status="canceled")
    world.keys.set_enabled(world.key.id, False)

    world.handle(INVOICE_PAID)

    assert not world.key_works and world.row.status is AccountStatus.CANCELED


def test_a_paid_invoice_without_a_subscription_id_is_matched_by_customer():
    world = World(AccountStatus.SUSPENDED)
    world.keys.set_enabled(world.key.id, False)

    assert world.handle(INVOICE_PAID, subscription_id=None) is Outcome.APPLIED

    assert world.key_works


def test_completed_setup_checkout_sets_the_default_payment_method_and_activates_a_waiting_key():
    world = World(AccountStatus.AWAITING_PAYMENT_METHOD)
    world.payments.setup_intents["seti_1"] = "pm_card_visa"
    assert not world.key_works

    outcome = world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_1")

    assert outcome is Outcome.APPLIED
    assert world.payments.default_payment_methods == {world.customer_id: "pm_card_visa"}
    assert world.key_works
    assert world.row.status is AccountStatus.ACTIVE


def test_completed_setup_checkout_on_an_active_account_only_sets_the_payment_method():
    world = World()
    world.payments.setup_intents["seti_1"] = "pm_card_visa"

    world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_1")

    assert world.payments.default_payment_methods[world.customer_id] == "pm_card_visa"
    assert world.key_works and world.row.status is AccountStatus.ACTIVE


def test_a_good_standing_subscription_does_not_activate_a_key_still_waiting_for_a_payment_method():
    world = World(AccountStatus.AWAITING_PAYMENT_METHOD)

    world.handle(INVOICE_PAID)
    world.handle(SUBSCRIPTION_UPDATED)

    assert not world.key_works
    assert world.row.status is AccountStatus.AWAITING_PAYMENT_METHOD


def test_checkout_in_another_mode_is_ignored():
    world = World(AccountStatus.AWAITING_PAYMENT_METHOD)

    assert world.handle(CHECKOUT_COMPLETED, checkout_mode="payment") is Outcome.IGNORED

    assert world.payments.calls == [] and world.billing.calls == [] and not world.key_works


def test_an_unknown_event_type_is_ignored_without_touching_anything():
    world = World()

    assert world.handle("customer.created") is Outcome.IGNORED

    assert world.accounts.calls == [] and world.keys.call_count("set_enabled") == 0


def test_an_event_about_a_subscription_tollgate_does_not_know_is_ignored():
    world = World()

    assert world.handle(SUBSCRIPTION_DELETED, subscription_id="sub_other", customer_id="cus_other") is Outcome.IGNORED
    assert world.key_works


def test_an_older_subscription_of_the_same_customer_does_not_move_the_key():
    world = World()
    world.billing.put_subscription("sub_old", world.customer_id, "canceled")

    assert world.handle(SUBSCRIPTION_DELETED, subscription_id="sub_old") is Outcome.IGNORED
    assert world.key_works


def test_a_replayed_event_is_applied_once():
    world = World()
    world.set_subscription_status("past_due")
    event = world.event(SUBSCRIPTION_UPDATED)

    assert world.service.handle(event) is Outcome.APPLIED
    history = world.row.history
    assert world.service.handle(event) is Outcome.DUPLICATE

    assert world.row.history == history
    assert world.billing.call_count("subscription") == 1
    assert not world.key_works


def test_a_replay_of_an_older_event_is_recognised_by_its_recorded_id():
    world = World()
    world.set_subscription_status("past_due")
    first = world.event(SUBSCRIPTION_UPDATED, created=NOW)
    world.service.handle(first)
    world.set_subscription_status("active")
    world.handle(INVOICE_PAID, created=NOW)  # same second: both are applied, newest recorded last

    assert world.service.handle(first) is Outcome.DUPLICATE
    assert world.key_works


def test_a_late_older_event_never_overrides_a_newer_one():
    """The out-of-order pair: deleted, then a late `updated` (active) created before it."""
    world = World()
    world.set_subscription_status("canceled")
    world.handle(SUBSCRIPTION_DELETED, created=NOW)

    assert world.handle(SUBSCRIPTION_UPDATED, created=NOW - 60) is Outcome.STALE

    assert not world.key_works
    assert world.row.status is AccountStatus.CANCELED
    assert world.billing.call_count("subscription") == 1


def test_a_checkout_delivered_after_a_newer_event_still_sets_the_card_and_activates_the_waiting_key():
    """A completed Checkout is an action: it is never dropped as stale, yet it does not let
    older subscription events through either."""
    world = World(AccountStatus.AWAITING_PAYMENT_METHOD)
    world.payments.setup_intents["seti_1"] = "pm_card_visa"
    world.handle(INVOICE_PAID, created=NOW)

    late_checkout = world.handle(CHECKOUT_COMPLETED, created=NOW - 5, checkout_mode="setup", setup_intent_id="seti_1")

    assert late_checkout is Outcome.APPLIED
    assert world.payments.default_payment_methods == {world.customer_id: "pm_card_visa"}
    assert world.key_works and world.row.status is AccountStatus.ACTIVE
    assert world.handle(SUBSCRIPTION_UPDATED, created=NOW - 1) is Outcome.STALE


def test_events_of_the_same_second_follow_stripes_current_status_not_delivery_order():
    world = World()
    world.set_subscription_status("canceled")
    world.handle(SUBSCRIPTION_DELETED, created=NOW)

    world.handle(SUBSCRIPTION_UPDATED, created=NOW)  # stamped in the same second, delivered late

    assert not world.key_works


def test_a_stripe_failure_changes_nothing_and_the_retry_applies_the_event():
    world = World()
    world.set_subscription_status("past_due")
    world.billing.fail("subscription")
    event = world.event(SUBSCRIPTION_UPDATED)

    with pytest.raises(DownstreamError):
        world.service.handle(event)
    assert world.key_works and world.row.status is AccountStatus.ACTIVE and not world.accounts.billing_events

    assert world.service.handle(event) is Outcome.APPLIED
    assert not world.key_works


def test_a_key_failure_after_the_row_was_written_is_repaired_by_stripes_retry():
    world = World()
    world.set_subscription_status("past_due")
    world.keys.fail("set_enabled")
    event = world.event(SUBSCRIPTION_UPDATED)

    with pytest.raises(DownstreamError):
        world.service.handle(event)
    assert world.row.status is AccountStatus.SUSPENDED and world.key_works

    assert world.service.handle(event) is Outcome.DUPLICATE
    assert not world.key_works


def test_a_concurrent_row_change_is_retried_from_a_fresh_read():
    world = World()
    world.set_subscription_status("past_due")
    world.accounts.fail("update", error=ConcurrentUpdate("raced"))

    assert world.handle(SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert world.accounts.call_count("update") == 3  # the raced write, its retry, then the keys said to match
    assert not world.key_works


def test_a_newer_event_committed_between_our_write_and_our_key_call_wins():
    """Two deliveries in flight: ours (past_due) writes first; before it touches the key, a newer
    event re-activates the row. The key must end up following the newest row."""
    world = World()
    world.set_subscription_status("past_due")
    set_enabled = world.keys.set_enabled

    def newer_event_lands_first(key_id, enabled):
        world.keys.set_enabled = set_enabled
        world.set_subscription_status("active")
        world.handle(INVOICE_PAID, created=NOW + 1)
        set_enabled(key_id, enabled)

    world.keys.set_enabled = newer_event_lands_first

    world.handle(SUBSCRIPTION_UPDATED, created=NOW)

    assert world.row.status is AccountStatus.ACTIVE
    assert world.key_works


def test_an_account_still_being_registered_asks_stripe_to_retry():
    world = World(AccountStatus.PENDING)
    world.accounts.rows[EMAIL] = replace(world.row, lease_expires_at=NOW + 60)

    with pytest.raises(ConcurrentUpdate):
        world.handle(SUBSCRIPTION_DELETED)


def test_a_pending_row_whose_lease_ran_out_is_not_an_account_and_the_event_is_acknowledged():
    """Its sign-up crashed; a 409 would make Stripe retry every event of the customer for 3 days."""
    world = World(AccountStatus.PENDING)
    world.accounts.rows[EMAIL] = replace(world.row, lease_expires_at=NOW - 1)

    assert world.handle(SUBSCRIPTION_DELETED) is Outcome.IGNORED
    assert world.row.status is AccountStatus.PENDING and not world.accounts.billing_events


def test_a_failed_registration_is_left_to_the_failed_accounts_command():
    world = World(AccountStatus.FAILED)

    assert world.handle(SUBSCRIPTION_DELETED) is Outcome.IGNORED


def test_history_keeps_the_latest_entries_only():
    world = World()
    for second in range(HISTORY_LIMIT + 5):
        world.set_subscription_status("past_due" if second % 2 else "active")
        world.handle(SUBSCRIPTION_UPDATED, created=NOW + second)

    assert len(world.row.history) == HISTORY_LIMIT
    assert world.row.history[-1].event_id == world.row.last_billing_event_id


def key_management_calls(world: World) -> int:
    return sum(world.keys.call_count(method) for method in ("attach_to_plan", "detach_from_plan", "set_enabled"))


def test_an_event_that_keeps_the_status_makes_no_api_gateway_call():
    """API Gateway's management calls share an account-wide 10/s limit with sign-ups."""
    world = World()
    calls_before = key_management_calls(world)

    assert world.handle(INVOICE_PAID) is Outcome.APPLIED
    assert world.handle(SUBSCRIPTION_UPDATED) is Outcome.APPLIED

    assert key_management_calls(world) == calls_before and world.key_works


def test_replayed_and_stale_events_make_no_api_gateway_call_once_the_key_matches():
    world = World()
    world.set_subscription_status("canceled")
    deleted = world.event(SUBSCRIPTION_DELETED, created=NOW)
    calls_before = key_management_calls(world)
    world.service.handle(deleted)
    assert key_management_calls(world) == calls_before + 1  # the one call that disables the key

    assert world.service.handle(deleted) is Outcome.DUPLICATE
    assert world.handle(SUBSCRIPTION_UPDATED, created=NOW - 60) is Outcome.STALE

    assert key_management_calls(world) == calls_before + 1
    assert world.row.keys_in_sync and not world.key_works


def test_the_first_event_after_a_sign_up_asserts_the_key_once():
    """A sign-up attaches the key alongside its last row write, so the row does not claim it matches."""
    world = World()
    world.accounts.rows[EMAIL] = replace(world.row, keys_synced_to=None)
    attached_before = world.keys.call_count("attach_to_plan")

    world.handle(INVOICE_PAID)
    world.handle(INVOICE_PAID)

    assert world.keys.call_count("attach_to_plan") == attached_before + 1
    assert world.keys.call_count("set_enabled") == 1
    assert world.row.keys_in_sync


def test_a_crash_between_clearing_the_marker_and_the_key_call_is_repaired_by_the_next_event():
    world = World()
    world.set_subscription_status("past_due")
    world.keys.fail("set_enabled")

    with pytest.raises(DownstreamError):
        world.handle(SUBSCRIPTION_UPDATED)
    assert world.row.status is AccountStatus.SUSPENDED and not world.row.keys_in_sync and world.key_works

    world.handle(INVOICE_PAID)  # Stripe still says past_due: the status stays, the key is repaired

    assert not world.key_works and world.row.keys_in_sync


# --- issue 11: past-due customers recover; a cancellation is final --------------------------------


def past_due_world(owed: list[int]) -> World:
    """The first usage invoice failed (no card yet): past_due, key disabled, invoices open."""
    world = World(AccountStatus.SUSPENDED, subscription_status="past_due")
    world.keys.set_enabled(world.key.id, False)
    for amount in owed:
        world.billing.owe(world.subscription_id, amount)
    world.payments.setup_intents["seti_new"] = "pm_new_card"
    return world


def test_a_past_due_customer_who_adds_a_card_has_the_open_invoices_paid_and_the_key_back():
    world = past_due_world([1200, 300])

    outcome = world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert outcome is Outcome.APPLIED
    assert world.billing.paid_invoices == [(world.subscription_id, 1200), (world.subscription_id, 300)]
    assert world.key_works and world.row.status is AccountStatus.ACTIVE and world.row.cut_off_reason is None


def test_an_unpaid_subscription_is_settled_the_same_way():
    world = past_due_world([500])
    world.set_subscription_status("unpaid")

    world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert world.billing.paid_invoices == [(world.subscription_id, 500)] and world.key_works


def test_a_declined_card_keeps_the_account_suspended_and_says_so():
    world = past_due_world([1200])
    world.billing.declining_methods.add("pm_new_card")

    world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    assert not world.key_works and world.row.status is AccountStatus.SUSPENDED
    assert world.row.cut_off_reason == "The card added at checkout was declined: Your card was declined."
    assert [invoice["amount"] for invoice in world.billing.invoices if invoice["status"] == "open"] == [1200]


def test_the_row_names_the_checkout_session_it_applied_whatever_the_card_did():
    """The signup page back from Checkout waits for exactly this (tollgate.domain.checkout)."""
    paying, declining = past_due_world([1200]), past_due_world([1200])
    declining.billing.declining_methods.add("pm_new_card")
    later_event = paying.event(INVOICE_PAYMENT_FAILED, created=NOW + 5, failure_reason="Payment failed.")

    for world in (paying, declining):
        world.handle(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new",
                     checkout_session_id="cs_test_1")
    paying.service.handle(later_event)

    assert paying.row.last_checkout_session_id == declining.row.last_checkout_session_id == "cs_test_1"


def test_a_replayed_checkout_event_pays_nothing_twice():
    world = past_due_world([1200])
    event = world.event(CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id="seti_new")

    world.service.handle(event)
    assert world.service.handle(event) is Outcome.DUPLICATE

    assert world.billing.call_count("pay_open_invoices") == 1


def test_a_failed_payment_records_why_the_account_is_cut_off():
    world = World()
    world.set_subscription_status("past_due")
    reason = (
        "Payment of invoice TG-0001 (12.00 USD) failed (attempt 1). "
        "Stripe will not retry it: add or update the payment method."
    )

    world.handle(INVOICE_PAYMENT_FAILED, failure_reason=reason)

    assert not world.key_works and world.row.status is AccountStatus.SUSPENDED
    assert world.row.cut_off_reason == reason


def test_a_canceled_account_stays_canceled_whatever_comes_later():
    world = World()
    world.set_subscription_status("canceled")
    world.handle(SUBSCRIPTION_DELETED)

    world.set_subscription_status("active")  # a late, stray status: a canceled subscription is final
    world.handle(INVOICE_PAID, created=NOW + 5)

    assert world.row.status is AccountStatus.CANCELED and not world.key_works
