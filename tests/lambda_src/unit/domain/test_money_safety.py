"""Money safety II on fakes: the nine ways two writers at once, a clever customer or one failed write
used to lose money (issue 18), each made impossible. The interleavings of every pair of writers are
in test_writer_interleavings.py; the DynamoDB ones on moto in tests/lambda_src/integration/domain/."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from testkit.account_settings import GRACE_SECONDS
from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.interleaving import Interleaved
from testkit.invariants import keys_follow_the_row, stripe_bills_the_row
from testkit.world import World
from tollgate.domain.account import AccountStatus
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import DownstreamError, KeyChangeRefused, PlanChangeRefused
from tollgate.domain.lifecycle import (
    CHECKOUT_COMPLETED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
)
from tollgate.domain.plan_state import DAY_SECONDS, PLAN_CHANGES_KEPT, PLAN_HISTORY_SECONDS
from tollgate.plans import PlanCatalog

ADA = "ada@example.com"
RETURN_URL = "https://shop.example/account"
STANDARD, FREE, PRO = (TEST_PLANS.get(plan_id) for plan_id in ("standard", "free", "pro"))
# Pro without a card first: every change between paid plans happens on the account page alone.
PAID_PLANS = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))
_ids = itertools.count(1)


def interleaved_world(plans: PlanCatalog = TEST_PLANS) -> World:
    return World.create(plans, accounts=Interleaved(World.create().accounts))


def change(world: World, plan_id: str, account=None):
    account = account or world.accounts.get(ADA)
    return world.plan_changes.request(account, plan_id, f"req-{next(_ids)}", RETURN_URL)


def event(world: World, event_type: str, subscription_id: str | None = None, **fields) -> None:
    row = world.accounts.get(ADA)
    world.lifecycle.handle(
        BillingEvent(
            f"evt_{next(_ids)}",
            event_type,
            int(world.clock()),
            row.customer_id,
            subscription_id or row.subscription_id,
            **fields,
        )
    )


def calls(world: World, key_id: str, count: int):
    """`count` billable calls now, in one ledger object (returned, not yet reported)."""
    at_ms = int(world.clock() * 1000)
    source = world.ledger.put(ledger_bytes([call_record(key_id, at_ms=at_ms + n) for n in range(count)]))
    world.clock.advance(60)
    return source


def consistent(world: World) -> list[str]:
    return keys_follow_the_row(world, ADA) + stripe_bills_the_row(world, ADA)


def test_scenario_1_a_rotation_racing_a_change_to_free_leaves_no_key_on_the_paid_quota():
    """The rotation reads the paid row; the change to free lands before the rotation writes: the rotation
    is refused (its new key's item removed), and every key item the account has says free."""
    world = interleaved_world()
    account = world.signed_up(ADA)
    world.accounts.after_read(1, lambda: change(world, "free"))

    with pytest.raises(KeyChangeRefused, match="changed"):
        world.account_keys.rotate(world.accounts.get(ADA))
    new = world.account_keys.rotate(world.accounts.get(ADA))  # the customer tries again

    row = world.accounts.get(ADA)
    assert row.plan_id == "free" and row.current_key.id == new.id
    assert world.api_keys.plan[account.api_key_id] == FREE.usage_plan_id
    assert {item.plan for item in world.key_items.of_account(ADA)} == {"free"} and len(row.existing_key_ids) == 2
    assert consistent(world) == []


def test_scenario_1_the_other_way_a_change_to_free_racing_a_rotation_moves_the_new_key_too():
    world = interleaved_world()
    world.signed_up(ADA)
    rotated = []
    world.accounts.after_read(1, lambda: rotated.append(world.account_keys.rotate(world.accounts.get(ADA))))

    change(world, "free")  # decided on the row before the rotation; written after it

    row = world.accounts.get(ADA)
    assert row.plan_id == "free" and row.current_key.id == rotated[0].id and row.keys_in_sync
    assert world.key_items.get(row.current_key.key_hash).plan == "free" and consistent(world) == []


def test_scenario_2_a_webhook_that_read_the_row_before_a_plan_change_cannot_erase_it():
    world = interleaved_world(PAID_PLANS)
    account = world.signed_up(ADA)
    world.accounts.after_read(1, lambda: change(world, "pro"))

    event(world, INVOICE_PAID)  # it read the standard row; the change to pro lands before it writes

    row = world.accounts.get(ADA)
    assert row.plan_id == "pro" and row.plan_changes[-1].to_plan == "pro"
    assert world.api_keys.plan[account.api_key_id] == PRO.usage_plan_id
    assert world.billing.subscription(row.subscription_id).has_price(PRO.price_id) and consistent(world) == []


def test_scenario_2_a_reconciler_repair_in_flight_cannot_erase_it_either():
    world = interleaved_world(PAID_PLANS)
    account = world.signed_up(ADA)
    world.accounts.inner.rows[ADA] = replace(world.accounts.get(ADA), keys_synced_to=None)  # something to repair
    world.accounts.after_read(2, lambda: change(world, "pro"))  # after the reconciler's read of the row

    world.reconciler.run("run-1", world.clock() + 60)

    row = world.accounts.get(ADA)
    assert row.plan_id == "pro" and world.api_keys.plan[account.api_key_id] == PRO.usage_plan_id
    assert consistent(world) == []


def downgraded_before_an_unpaid_invoice(world: World) -> tuple[str, str]:
    """Paid standard (no card needed), calls, then free before the period ends; the period ends and the
    final invoice fails. Returns (the ended subscription, its invoice)."""
    account = world.signed_up(ADA)
    world.reporter.report_object(calls(world, account.api_key_id, 900))
    change(world, "free")
    ended = account.subscription_id
    world.clock.advance(DAY_SECONDS)
    world.billing.renew(ended)  # set to cancel at the period's end: it ends now
    event(world, SUBSCRIPTION_DELETED, subscription_id=ended)
    assert world.accounts.get(ADA).status is AccountStatus.ACTIVE  # on free, for now
    invoice = world.billing.owe(ended, 1234)
    return ended, invoice


def test_scenario_3_a_downgrade_does_not_escape_the_unpaid_final_invoice():
    world = World.create()
    ended, invoice = downgraded_before_an_unpaid_invoice(world)

    event(world, INVOICE_PAYMENT_FAILED, subscription_id=ended)

    row = world.accounts.get(ADA)
    assert row.status is AccountStatus.SUSPENDED and row.plan_id == "free" and row.owes_since is not None
    assert invoice in row.cut_off_reason and not world.api_keys.can_call_api(row.api_key_id)
    outcome = change(world, "standard")  # back to paid: a card and the debt first, no new subscription
    assert outcome.checkout_url and world.billing.live_subscription_ids() == []
    assert world.accounts.get(ADA).pending_plan_id == "standard"


def test_scenario_3_checkout_pays_the_debt_then_applies_the_paid_plan():
    world = World.create()
    ended, _ = downgraded_before_an_unpaid_invoice(world)
    event(world, INVOICE_PAYMENT_FAILED, subscription_id=ended)
    url = change(world, "standard").checkout_url
    session_id, setup_intent = world.payments.complete_checkout(url, "pm_card_visa")

    event(
        world, CHECKOUT_COMPLETED, checkout_mode="setup", setup_intent_id=setup_intent, checkout_session_id=session_id
    )

    row = world.accounts.get(ADA)
    assert world.billing.paid_invoices == [(ended, 1234)]
    assert row.status is AccountStatus.ACTIVE and row.plan_id == "standard" and row.owes_since is None
    assert row.subscription_id != ended and world.api_keys.can_call_api(row.api_key_id) and consistent(world) == []


def test_scenario_3_a_lost_payment_failed_event_is_caught_by_the_reconciler_and_a_lost_paid_one_too():
    world = World.create()
    _ended, invoice = downgraded_before_an_unpaid_invoice(world)  # invoice.payment_failed never arrives

    world.reconciler.run("run-1", world.clock() + 60)
    assert world.accounts.get(ADA).status is AccountStatus.SUSPENDED

    next(i for i in world.billing.invoices if i["id"] == invoice)["status"] = "paid"  # paid in the portal
    world.reconciler.run("run-2", world.clock() + 60)  # invoice.paid lost too: the follow-up list finds it
    row = world.accounts.get(ADA)
    assert row.status is AccountStatus.ACTIVE and row.owes_since is None and consistent(world) == []


def test_scenario_4_changing_plans_and_back_within_a_period_stays_changed_back():
    world = World.create(PAID_PLANS)
    account = world.signed_up(ADA)
    change(world, "pro")
    world.clock.advance(600)
    change(world, "standard")  # standard's item is still on the subscription: nothing to add

    event(world, SUBSCRIPTION_UPDATED)
    world.reconciler.run("run-1", world.clock() + 60)
    world.reporter.report_object(calls(world, account.api_key_id, 5))

    row = world.accounts.get(ADA)
    assert row.plan_id == "standard" and world.api_keys.plan[account.api_key_id] == STANDARD.usage_plan_id
    assert world.meter.events[-1].price_id == STANDARD.price_id and consistent(world) == []


def test_scenario_5_a_lost_row_write_after_subscribing_never_makes_a_second_subscription():
    world = World.create()
    world.signed_up(ADA, "free")
    world.accounts.fail("update", on_call=world.accounts.call_count("update") + 2)  # the write after Stripe's

    with pytest.raises(DownstreamError):
        change(world, "standard")
    assert world.accounts.get(ADA).plan_intent.to_plan == "standard"
    change(world, "standard")  # the customer clicks again

    row = world.accounts.get(ADA)
    assert world.billing.live_subscription_ids() == [row.subscription_id] and row.plan_id == "standard"
    assert consistent(world) == []


def test_scenario_5_the_reconciler_adopts_the_subscription_of_a_lost_write_even_past_stripes_24_hours():
    world = World.create()
    world.signed_up(ADA, "free")
    world.accounts.fail("update", on_call=world.accounts.call_count("update") + 2)
    with pytest.raises(DownstreamError):
        change(world, "standard")
    world.billing._idempotent.clear()
    world.clock.advance(2 * DAY_SECONDS)

    run, _ = world.reconciler.run("run-1", world.clock() + 60)

    row = world.accounts.get(ADA)
    assert row.plan_id == "standard" and row.plan_intent is None and run.orphans_canceled == 0
    assert world.billing.live_subscription_ids() == [row.subscription_id] and consistent(world) == []


def test_scenario_5_a_live_subscription_no_row_records_is_canceled_counted_and_alarmed_on():
    world = World.create()
    account = world.signed_up(ADA)
    world.billing.put_subscription("sub_stray", account.customer_id, created=int(world.clock()) - 3600)

    run, _ = world.reconciler.run("run-1", world.clock() + 60)

    assert run.orphans_canceled == 1 and world.billing.subscriptions["sub_stray"]["status"] == "canceled"
    assert world.billing.live_subscription_ids() == [account.subscription_id] and consistent(world) == []


def test_scenario_6_plan_history_is_kept_by_age_and_a_redelivered_object_bills_the_same():
    world = World.create()
    account = world.signed_up(ADA)
    early = calls(world, account.api_key_id, 7)  # made on standard, reported only after 25 changes
    for number in range(25):
        change(world, "free" if number % 2 == 0 else "standard")
        world.clock.advance(3600)

    first = world.reporter.report_object(early)
    again = world.reporter.report_object(early)  # redelivered

    assert [(e.price_id, e.value) for e in world.meter.events] == [(STANDARD.price_id, 7)]
    assert first.deliveries.keys() == again.deliveries.keys() and first.units_sent == 7 and again.units_sent == 0
    assert len(world.accounts.get(ADA).plan_changes) == 25


def test_scenario_6_changes_older_than_the_billing_window_go_and_too_many_are_refused():
    world = World.create()
    world.signed_up(ADA)
    change(world, "free")
    world.clock.advance(PLAN_HISTORY_SECONDS + 3600)
    change(world, "standard")
    change(world, "free")
    assert [c.to_plan for c in world.accounts.get(ADA).plan_changes] == ["standard", "free"]  # the oldest went

    for number in range(PLAN_CHANGES_KEPT - 2):
        change(world, "standard" if number % 2 == 0 else "free")
    with pytest.raises(PlanChangeRefused, match="times in the last"):
        change(world, "standard" if world.accounts.get(ADA).plan_id == "free" else "free")


def test_scenario_7_a_retirement_whose_row_write_failed_never_stops_a_suspension():
    world = World.create()
    account = world.signed_up(ADA)
    new = world.account_keys.rotate(world.accounts.get(ADA))
    world.clock.advance(GRACE_SECONDS + 1)
    world.accounts.fail_next("update")
    assert world.account_keys.retire_due().failed == 1  # the row still lists it as rotating out

    world.billing.subscriptions[account.subscription_id]["status"] = "past_due"
    event(world, SUBSCRIPTION_UPDATED)  # suspension: the unfinished retirement must not stop it

    assert not world.can_call(new.value) and world.accounts.get(ADA).status is AccountStatus.SUSPENDED
    assert not world.can_call(world.issued[ADA]) and consistent(world) == []
    assert world.account_keys.retire_due().retired == 1 and consistent(world) == []


def test_scenario_8_a_change_to_free_whose_row_write_fails_is_completed_by_the_reconciler():
    world = World.create()
    account = world.signed_up(ADA)
    world.accounts.fail("update", on_call=world.accounts.call_count("update") + 2)
    with pytest.raises(DownstreamError):
        change(world, "free")

    world.reconciler.run("run-1", world.clock() + 60)
    world.clock.advance(DAY_SECONDS)
    world.billing.renew(account.subscription_id)
    event(world, SUBSCRIPTION_DELETED, subscription_id=account.subscription_id)

    row = world.accounts.get(ADA)
    assert row.status is AccountStatus.ACTIVE and row.plan_id == "free" and row.subscription_id is None
    assert world.api_keys.plan[account.api_key_id] == FREE.usage_plan_id and consistent(world) == []


def test_scenario_9_removing_a_plan_from_the_settings_never_stalls_billing():
    world = World.create(PAID_PLANS)
    on_pro = world.signed_up(ADA)
    change(world, "pro")
    other = world.signed_up("bob@example.com")
    source = world.ledger.put(
        ledger_bytes(
            [
                call_record(on_pro.api_key_id, at_ms=int(world.clock() * 1000)),
                call_record(other.api_key_id, at_ms=int(world.clock() * 1000)),
            ]
        )
    )
    without_pro = World.create(PlanCatalog((STANDARD, FREE)))
    without_pro.ports = replace(without_pro.ports, accounts=world.accounts)  # the same table and ledger,
    without_pro.ledger = world.ledger  # new settings

    outcome = without_pro.reporter.report_object(source)

    assert sorted((e.customer_id, e.price_id) for e in without_pro.meter.events) == sorted(
        [(on_pro.customer_id, PRO.price_id), (other.customer_id, STANDARD.price_id)]
    )
    assert outcome.summary.unknown_keys == {}
