"""Buying prepaid credit (tollgate.domain.credit_purchases): the account page opens Checkout in payment mode
for one of the plan's packs, and the paid session's webhook adds the pack's credit to the ledger once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.clock import START
from testkit.fake_ports import PREPAID_PLANS
from testkit.world import SITE_URL, World
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.billing_state import BillingEvent, CreditPackPayment
from tollgate.domain.credit_purchases import ASYNC_PAYMENT_SUCCEEDED, CHECKOUT_COMPLETED, CreditPurchases
from tollgate.domain.credits import CreditBook, CreditKind
from tollgate.domain.errors import CreditPurchaseRefused, ValidationFailed
from tollgate.domain.lifecycle import Outcome
from tollgate.plans import CreditPack, PlanCatalog

ACCOUNT_PAGE = f"{SITE_URL}account"


@pytest.fixture
def world() -> World:
    return World.create(PREPAID_PLANS, start=START)


@pytest.fixture
def prepaid(world: World) -> Account:
    return world.signed_up("ada@example.com", "prepaid")


def paid_event(
    payment: CreditPackPayment, event_id: str = "evt_1", event_type: str = CHECKOUT_COMPLETED
) -> BillingEvent:
    return BillingEvent(
        event_id,
        event_type,
        int(START),
        customer_id=payment.order.customer_id,
        checkout_mode="payment",
        checkout_session_id=payment.session_id,
        credit_pack=payment,
    )


def bought(
    world: World, account: Account, pack: str = "ten", *, paid: bool = True, request_id: str = "req-1"
) -> CreditPackPayment:
    """The customer chose `pack` on the account page and went through Checkout."""
    return world.credit_sales.pay(world.credit_purchases.start(account, pack, request_id, ACCOUNT_PAGE), paid=paid)


def balance(world: World, account: Account) -> int:
    assert account.account_id is not None
    return world.credit_ledger.balance(account.account_id)


def test_checkout_sells_the_chosen_pack_at_its_price_to_the_accounts_customer(world, prepaid) -> None:
    url = world.credit_purchases.start(prepaid, "fifty", "req-1", ACCOUNT_PAGE)

    session = next(iter(world.credit_sales.sessions.values()))
    assert session["url"] == url
    assert (session["order"].account_id, session["order"].customer_id) == (prepaid.account_id, prepaid.customer_id)
    assert (session["order"].pack_id, session["order"].credit, session["order"].price) == ("fifty", 55_000_000, 5_000)
    assert session["success_url"] == f"{ACCOUNT_PAGE}?credits=success"
    assert session["cancel_url"] == f"{ACCOUNT_PAGE}?credits=cancel"
    assert world.credit_purchases.start(prepaid, "fifty", "req-1", ACCOUNT_PAGE) == url  # the SDK's retry


def test_a_paid_pack_adds_its_credit_once_however_often_stripe_delivers_it(world, prepaid) -> None:
    payment = bought(world, prepaid)

    assert world.credit_purchases.apply(paid_event(payment)) is Outcome.APPLIED
    assert world.credit_purchases.apply(paid_event(payment)) is Outcome.DUPLICATE  # a redelivery
    assert world.credit_purchases.apply(paid_event(payment, "evt_2", ASYNC_PAYMENT_SUCCEEDED)) is Outcome.DUPLICATE

    assert balance(world, prepaid) == 10_000_000
    [entry] = world.credit_ledger.entries(prepaid.account_id or "")
    assert (entry.kind, entry.amount, entry.entry_id) == (
        CreditKind.PURCHASE,
        10_000_000,
        f"purchase#{payment.session_id}",
    )


def test_a_completed_session_not_yet_paid_adds_nothing_until_its_payment_succeeds(world, prepaid) -> None:
    pending = bought(world, prepaid, paid=False)

    assert world.credit_purchases.apply(paid_event(pending)) is Outcome.IGNORED
    assert balance(world, prepaid) == 0

    succeeded = replace(pending, paid=True)
    assert world.credit_purchases.apply(paid_event(succeeded, "evt_2", ASYNC_PAYMENT_SUCCEEDED)) is Outcome.APPLIED
    assert balance(world, prepaid) == 10_000_000


def test_the_credit_added_is_the_packs_when_sold_not_what_the_plan_says_now(world, prepaid) -> None:
    payment = bought(world, prepaid)
    plan = PREPAID_PLANS.get("prepaid")
    assert plan.prepaid is not None
    repriced = replace(plan, prepaid=replace(plan.prepaid, packs=(CreditPack("ten", 9_000_000, 1_000),)))
    catalog = PlanCatalog(tuple(repriced if each.id == plan.id else each for each in PREPAID_PLANS))
    purchases = CreditPurchases(world.accounts, world.credit_sales, CreditBook(world.credit_ledger), catalog)

    assert purchases.apply(paid_event(payment)) is Outcome.APPLIED
    assert balance(world, prepaid) == 10_000_000


def test_a_session_whose_order_names_another_account_adds_nothing(world, prepaid) -> None:
    other = world.signed_up("grace@example.com", "prepaid")
    payment = bought(world, prepaid)
    forged = replace(payment, order=replace(payment.order, account_id=other.account_id))

    assert world.credit_purchases.apply(paid_event(forged)) is Outcome.IGNORED
    assert balance(world, other) == 0 and balance(world, prepaid) == 0


def test_credit_is_sold_only_on_a_prepaid_plan(world) -> None:
    metered = world.signed_up("ada@example.com", "standard")

    with pytest.raises(CreditPurchaseRefused, match="not prepaid"):
        world.credit_purchases.start(metered, "ten", "req-1", ACCOUNT_PAGE)
    assert world.credit_sales.sessions == {}
    assert world.credit_purchases.view(metered) is None


def test_a_pack_the_plan_does_not_sell_is_refused_naming_the_field_and_the_packs(world, prepaid) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.credit_purchases.start(prepaid, "hundred", "req-1", ACCOUNT_PAGE)

    assert "choose one of: ten, fifty" in refused.value.fields["pack"]


def test_a_canceled_account_cannot_buy_credit(world, prepaid) -> None:
    canceled = replace(prepaid, status=AccountStatus.CANCELED)

    with pytest.raises(CreditPurchaseRefused, match="canceled"):
        world.credit_purchases.start(canceled, "ten", "req-1", ACCOUNT_PAGE)


def test_the_account_page_shows_the_balance_packs_and_newest_entries_first(world, prepaid) -> None:
    for number in range(3):
        world.clock.advance(60)
        payment = bought(world, prepaid, request_id=f"req-{number}")
        world.credit_purchases.apply(replace(paid_event(payment), created=int(world.clock())))

    view = world.credit_purchases.view(prepaid)

    assert view is not None
    assert (view.balance, view.currency, view.unit_price) == (30_000_000, "usd", 1_000)
    assert [pack.id for pack in view.packs] == ["ten", "fifty"]
    assert [entry.at for entry in view.entries] == sorted((entry.at for entry in view.entries), reverse=True)
