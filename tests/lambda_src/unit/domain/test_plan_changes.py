"""Plan changes on fakes (issue 13): every change of plan through the account page, Checkout and
Stripe itself; the key value never changes, no key is left in two usage plans, and every call is
billed at the price of the plan it was made on, including across a change that fails half-way."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import ConfigurationError, DownstreamError, PlanChangeRefused
from tollgate.domain.lifecycle import SUBSCRIPTION_DELETED, SUBSCRIPTION_UPDATED
from tollgate.domain.models import IssuedKey, Registrant
from tollgate.domain.plan_changes import INVOICE_GRACE_SECONDS
from tollgate.plans import PlanCatalog

ADA = Registrant("ada@example.com", "Ada", "Lovelace")
RETURN_URL = "https://shop.example/account"
STANDARD, FREE, PRO = (TEST_PLANS.get(plan_id) for plan_id in ("standard", "free", "pro"))


def register(world: World, plan_id: str) -> tuple[IssuedKey, Account]:
    """Ada signs up on `plan_id`: her usage key (the API Gateway key her plan moves and her calls are
    logged under) and her row."""
    world.registration.register(replace(ADA, plan_id=plan_id), "fp")
    account = ada(world)
    return IssuedKey(account.api_key_id, account.usage_key), account


def ada(world: World) -> Account:
    """Ada's row as stored now."""
    return world.accounts.get(ADA.email)


def change(world: World, plan_id: str):
    """Ada asks for `plan_id` on her account page."""
    return world.plan_changes.request(ada(world), plan_id, f"request-{plan_id}", RETURN_URL)


def test_free_to_paid_subscribes_and_moves_the_same_key_to_the_paid_usage_plan(world):
    key, _ = register(world, "free")
    world.billable_calls(key.id, 3)

    outcome = change(world, "standard")

    after = ada(world)
    assert outcome.checkout_url is None and after.plan_id == "standard"
    assert world.billing.subscription(after.subscription_id).has_price(STANDARD.price_id)
    assert after.api_key_id == key.id and world.api_keys.keys[key.id]["value"] == key.value  # the key did not change
    assert world.api_keys.plan.get(key.id) == STANDARD.usage_plan_id and world.api_keys.can_call_api(key.id)
    assert after.keys_in_sync
    world.billable_calls(key.id, 4)
    assert world.meter.units_by_price() == {
        STANDARD.price_id: 4
    }  # the 3 calls made on the free plan are billed nowhere


def test_n_calls_before_a_switch_and_m_after_are_billed_n_at_the_old_price_and_m_at_the_new(world):
    """The old item stays until the period's invoice; each call goes to its plan's meter, even when
    one ledger object holds calls from both sides of the switch."""
    plans = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
    world = World.create(plans)
    key, _ = register(world, "standard")
    world.billable_calls(key.id, 5)
    before_ms = int(world.clock() * 1000)
    world.clock.advance(1)

    change(world, "pro")
    after_ms = int(world.clock() * 1000)
    world.billable_calls(key.id, 2)
    mixed = world.ledger.put(
        ledger_bytes([call_record(key.id, at_ms=before_ms - 10), call_record(key.id, at_ms=after_ms)])
    )
    summary = world.reporter.report_object(mixed).summary

    assert (summary.billable, summary.billed, summary.customers) == (2, 2, 1)  # one customer at two prices
    subscription = world.billing.subscription(ada(world).subscription_id)
    assert [item.price_id for item in subscription.items] == [STANDARD.price_id, PRO.price_id]
    assert world.meter.units_by_price() == {STANDARD.price_id: 6, PRO.price_id: 3}
    assert len({event.identifier for event in world.meter.events}) == len(world.meter.events)


def test_paid_to_free_ends_the_subscription_with_its_period_and_the_account_goes_on_free(world):
    key, account = register(world, "standard")
    world.billable_calls(key.id, 2)

    change(world, "free")
    world.billable_calls(key.id, 3)
    on_free = world.reports.latest_summary()
    assert (on_free.billable, on_free.billed, on_free.customers) == (3, 0, 0)  # calls on the free plan bill nothing
    assert world.reports.latest_billed_summary().billed == 2
    assert world.billing.subscription(account.subscription_id).cancel_at_period_end
    assert world.api_keys.plan.get(key.id) == FREE.usage_plan_id
    world.billing.renew(account.subscription_id)  # the period ends; Stripe ends the subscription
    world.stripe_sends(ada(world), SUBSCRIPTION_DELETED)

    after = ada(world)
    assert (after.status, after.plan_id, after.subscription_id) == (AccountStatus.ACTIVE, "free", None)
    assert world.api_keys.can_call_api(key.id)
    assert world.meter.units_by_price() == {STANDARD.price_id: 2}


def test_a_plan_that_needs_a_card_goes_through_checkout_first_then_the_webhook_changes_it(world):
    key, _ = register(world, "free")

    outcome = change(world, "pro")
    assert outcome.checkout_url and ada(world).pending_plan_id == "pro"
    assert ada(world).plan_id == "free" and world.api_keys.plan.get(key.id) == FREE.usage_plan_id  # still free
    session_id, setup_intent = world.payments.complete_checkout(outcome.checkout_url, "pm_card_visa")
    world.stripe_sends(
        ada(world),
        "checkout.session.completed",
        checkout_mode="setup",
        setup_intent_id=setup_intent,
        checkout_session_id=session_id,
        subscription_id=None,
    )

    after = ada(world)
    assert (after.plan_id, after.pending_plan_id, after.status) == ("pro", None, AccountStatus.ACTIVE)
    assert world.billing.subscription(after.subscription_id).has_price(PRO.price_id)
    assert world.api_keys.plan.get(key.id) == PRO.usage_plan_id and world.api_keys.can_call_api(key.id)
    session = next(iter(world.payments.checkout_sessions.values()))
    assert session["success_url"].startswith(RETURN_URL + "?checkout=success")


@pytest.mark.parametrize(
    ("plan_id", "status", "message"),
    [
        ("standard", AccountStatus.ACTIVE, "on the Standard plan already"),
        ("gold", AccountStatus.ACTIVE, "no plan 'gold'; choose one of: standard, free, pro"),
        ("free", AccountStatus.SUSPENDED, "settle what it owes first"),
    ],
)
def test_a_change_the_account_cannot_make_is_refused_saying_what_to_do(world, plan_id, status, message):
    register(world, "standard")
    world.accounts.rows[ADA.email] = replace(ada(world), status=status)

    with pytest.raises(PlanChangeRefused, match=message):
        change(world, plan_id)
    assert world.billing.call_count("switch_price") + world.billing.call_count("end_at_period_end") == 0


def test_two_paid_plans_on_one_meter_are_refused_before_anything_changes(world):
    plans = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
    world = World.create(plans)
    key, _ = register(world, "standard")
    world.billing.meters = {STANDARD.price_id: "mtr_shared", PRO.price_id: "mtr_shared"}

    with pytest.raises(ConfigurationError, match="share a meter"):
        change(world, "pro")

    assert ada(world).plan_id == "standard" and world.api_keys.plan.get(key.id) == STANDARD.usage_plan_id


def test_stripe_failing_changes_nothing(world):
    key, _ = register(world, "free")
    world.billing.fail("subscribe")

    with pytest.raises(DownstreamError):
        change(world, "standard")

    assert ada(world).plan_id == "free" and world.api_keys.plan.get(key.id) == FREE.usage_plan_id
    assert world.billing.live_subscription_ids() == []


def test_a_row_write_lost_after_stripe_changed_is_completed_by_the_reconciler_from_the_intent():
    """Money safety II, scenario 8's kind: Stripe bills the new plan, the row write recording it fails; the
    row's recorded intent says what was asked, and the reconciler completes it (the keys follow)."""
    plans = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
    world = World.create(plans)
    key, account = register(world, "standard")
    world.accounts.fail("update", on_call=world.accounts.call_count("update") + 2)  # the write after Stripe's

    with pytest.raises(DownstreamError):
        change(world, "pro")
    assert ada(world).plan_id == "standard" and ada(world).plan_intent.to_plan == "pro"
    assert world.api_keys.plan.get(key.id) == STANDARD.usage_plan_id
    subscription = world.billing.subscription(account.subscription_id)
    assert world.lifecycle.needs_reconciling(ada(world), subscription)

    world.lifecycle.reconcile(subscription, "run-1", int(world.clock()))

    after = ada(world)
    assert after.plan_id == "pro" and after.plan_intent is None and after.plan_changes[-1].cause == "account page"
    assert world.api_keys.plan.get(key.id) == PRO.usage_plan_id and after.keys_in_sync


def test_a_key_left_in_no_usage_plan_by_a_failed_move_is_moved_by_the_next_reconciliation(world):
    key, _ = register(world, "free")
    world.api_keys.fail_next("attach_to_plan")  # detached from the free plan, not yet in the paid one

    with pytest.raises(DownstreamError):
        change(world, "standard")
    assert world.api_keys.plan.get(key.id) is None and not world.api_keys.can_call_api(
        key.id
    )  # cut off, billed nowhere
    after = ada(world)
    assert after.plan_id == "standard" and not after.keys_in_sync

    world.api_keys.fail("attach_to_plan", times=0)
    world.lifecycle.reconcile(world.billing.subscription(after.subscription_id), "run-1", int(world.clock()))
    assert world.api_keys.plan.get(key.id) == STANDARD.usage_plan_id and world.api_keys.can_call_api(key.id)


def test_a_price_changed_in_stripe_is_put_back_the_plan_is_what_the_row_says(world):
    """The plan is the row's (Money safety II, scenario 4): a price replaced in Stripe's dashboard does not
    move the account; Stripe is made to bill the row's plan again, and the key stays on its usage plan."""
    plans = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
    world = World.create(plans)
    key, account = register(world, "standard")
    world.clock.advance(10)
    world.billing.subscriptions[account.subscription_id]["items"] = [(PRO.price_id, int(world.clock()))]

    world.stripe_sends(ada(world), SUBSCRIPTION_UPDATED)

    after = ada(world)
    assert after.plan_id == "standard" and after.plan_changes == ()
    assert world.billing.subscription(account.subscription_id).has_price(STANDARD.price_id)
    assert world.api_keys.plan.get(key.id) == STANDARD.usage_plan_id


def test_the_old_price_is_dropped_once_the_period_of_the_change_is_invoiced(world):
    plans = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
    world = World.create(plans)
    _, account = register(world, "standard")
    change(world, "pro")
    subscription_id = account.subscription_id
    assert not world.lifecycle.needs_reconciling(ada(world), world.billing.subscription(subscription_id))

    world.clock.advance(3600)
    world.billing.renew(subscription_id)
    world.clock.advance(INVOICE_GRACE_SECONDS - 1)
    assert not world.lifecycle.needs_reconciling(ada(world), world.billing.subscription(subscription_id))
    world.clock.advance(1)
    subscription = world.billing.subscription(subscription_id)
    assert world.lifecycle.needs_reconciling(ada(world), subscription)

    world.lifecycle.reconcile(subscription, "run-1", int(world.clock()))
    assert [item.price_id for item in world.billing.subscription(subscription_id).items] == [PRO.price_id]
    assert ada(world).plan_id == "pro"
