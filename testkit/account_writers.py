"""The account row's writers as a test drives them (issue 18's interleaving matrix): each does its
work on a World (testkit.world) for one account and says what must hold afterwards. Shared by the
matrix on fakes and the one on DynamoDB (moto)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

from testkit.account_settings import GRACE_SECONDS
from testkit.fake_ports import TEST_PLANS
from testkit.interleaving import Interleaved
from testkit.invariants import keys_follow_the_row, stripe_bills_the_row
from testkit.world import World
from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import ConcurrentUpdate, KeyChangeRefused, PlanChangeRefused
from tollgate.domain.lifecycle import CHECKOUT_COMPLETED, SUBSCRIPTION_UPDATED
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.usage_limit import UsageLimit
from tollgate.domain.usage_limits import LimitRule, UsageLimits
from tollgate.plans import Plan, PlanCatalog

EMAIL = "ada@example.com"
PLANS = PlanCatalog(
    (TEST_PLANS.get("standard"), replace(TEST_PLANS.get("pro"), requires_payment_method=False), TEST_PLANS.get("free"))
)
ANSWERS = (KeyChangeRefused, PlanChangeRefused, ConcurrentUpdate)
_ids = itertools.count(1)

Effect = Callable[[World], bool]


@dataclass(frozen=True)
class Writer:
    name: str
    decides: frozenset[str]  # what of the row it decides: a later writer deciding the same may change it
    act: Callable[[World], Effect]  # does its work; returns what must hold afterwards


def row_of(world: World) -> Account:
    """The account's row: every writer here acts on one that exists."""
    row = world.accounts.get(EMAIL)
    assert row is not None, f"no row for {EMAIL}"
    return row


def interleaved(world: World) -> Interleaved:
    """The world's store, as `start` made it: reads counted, a writer can be run after the Nth."""
    assert isinstance(world.accounts, Interleaved)
    return world.accounts


def rotate(world: World) -> Effect:
    key = world.account_keys.rotate(row_of(world))
    return lambda w: (record := row_of(w).key(key.id)) is not None and record.exists


def retire(world: World) -> Effect:
    old = row_of(world).key_records[0].id
    assert world.account_keys.retire_due().retired == 1, "not retired"
    return lambda w: not (record := row_of(w).key(old)) or not record.exists


def revoke(world: World) -> Effect:
    row = row_of(world)
    old = row.key_records[0].id
    world.account_keys.revoke(row, old)
    return lambda w: not (record := row_of(w).key(old)) or not record.exists


def change_to(plan_id: str) -> Callable[[World], Effect]:
    def act(world: World) -> Effect:
        outcome = world.plan_changes.request(row_of(world), plan_id, f"req-{next(_ids)}", "https://shop.example/a")
        if outcome.checkout_url:  # money is owed now: the change waits for Checkout to collect it
            return lambda w: row_of(w).pending_plan_id == plan_id
        return lambda w: row_of(w).plan_id == plan_id

    return act


def falls_behind(world: World) -> Effect:
    row = row_of(world)
    assert row.subscription_id is not None and row.customer_id is not None
    world.billing.subscriptions[row.subscription_id]["status"] = "past_due"
    world.billing.owe(row.subscription_id, 700)
    world.lifecycle.handle(
        BillingEvent(
            f"evt_{next(_ids)}", SUBSCRIPTION_UPDATED, int(world.clock()), row.customer_id, row.subscription_id
        )
    )
    # Applied: the row follows what Stripe says when it is decided (a card added meanwhile may have paid).
    customer_id = row.customer_id
    return lambda w: (
        row_of(w).status is (AccountStatus.SUSPENDED if w.billing.open_invoices(customer_id) else AccountStatus.ACTIVE)
    )


def adds_a_card(world: World) -> Effect:
    row = row_of(world)
    session = f"cs_{next(_ids)}"
    world.payments.setup_intents[f"seti_{session}"] = "pm_card_visa"
    world.lifecycle.handle(
        BillingEvent(
            f"evt_{next(_ids)}",
            CHECKOUT_COMPLETED,
            int(world.clock()),
            row.customer_id,
            checkout_mode="setup",
            setup_intent_id=f"seti_{session}",
            checkout_session_id=session,
        )
    )
    return lambda w: row_of(w).last_checkout_session_id == session


class AlwaysOverALimit(LimitRule):
    """A rule every account is over (as a spend cap reached would be): the usage limits writer then
    always has something to write."""

    def limit(self, account: Account, plan: Plan, now: int) -> UsageLimit | None:
        return UsageLimit(contract.USAGE_LIMIT_SPEND_CAP_REACHED, now + 3600, account.plan_id or "")


def limits(world: World) -> Effect:
    UsageLimits(world.accounts, world.enforcer, world.plans, [AlwaysOverALimit()], world.clock).apply(EMAIL)
    return lambda w: row_of(w).usage_limit is not None


def reconciles(world: World) -> Effect:
    world.reconciler.run(f"run-{next(_ids)}", world.clock() + 60)
    return lambda w: True


WRITERS = [
    Writer("rotation", frozenset({"current key"}), rotate),
    Writer("retirement", frozenset({"old key"}), retire),
    Writer("revocation", frozenset({"old key"}), revoke),
    Writer("change to free", frozenset({"plan"}), change_to("free")),
    Writer("change to pro", frozenset({"plan"}), change_to("pro")),
    Writer("webhook: falls behind", frozenset({"status"}), falls_behind),
    Writer("checkout: adds a card", frozenset({"status", "checkout"}), adds_a_card),
    Writer("reconciler", frozenset(), reconciles),
    Writer("usage limits", frozenset({"usage limit"}), limits),
]


def start(store: Accounts) -> World:
    """Active on a paid plan, with a current key and one rotated out whose grace is over (due for
    retirement), keys not yet known to match (the reconciler has something to repair); the row in `store`."""
    world = World.create(PLANS, accounts=Interleaved(store))
    world.signed_up(EMAIL)
    world.account_keys.rotate(row_of(world))
    world.clock.advance(GRACE_SECONDS + 1)
    row = row_of(world)
    world.accounts.update(replace(row, keys_synced_to=None), row)
    return world


def reads_of(writer: Writer, store: Callable[[], Accounts]) -> int:
    """How many row reads the writer makes on its own: each is a point to interleave at."""
    world = start(store())
    before = interleaved(world).reads
    try:
        writer.act(world)
    except (*ANSWERS, AssertionError):
        pass
    return interleaved(world).reads - before


def run(writer: Writer, world: World) -> Effect | None:
    """The writer's effect to check, or None when it answered instead (a refusal, a lost race)."""
    try:
        return writer.act(world)
    except ANSWERS:
        return None
    except AssertionError as refused:  # the retirement found nothing it could retire
        assert "not retired" in str(refused)
        return None


def interleave(first: Writer, second: Writer, read: int, store: Accounts) -> None:
    """`second` runs right after `first`'s `read`th read; then no update may be lost, and once the
    scheduled jobs ran, API Gateway and Stripe hold what the row says (AssertionError otherwise)."""
    world = start(store)
    effects: dict[str, Effect | None] = {}

    def second_writer() -> None:
        effects["second"] = effect = run(second, world)
        if effect is not None:
            assert effect(world), f"{second.name} returned but its effect is not in the row"

    interleaved(world).after_read(read, second_writer)
    effects["first"] = first_effect = run(first, world)

    if first_effect is not None:
        assert first_effect(world), f"{first.name} returned but its effect is not in the row"
    superseded = first_effect is not None and bool(first.decides & second.decides)
    second_effect = effects.get("second")
    if second_effect is not None and not superseded:
        assert second_effect(world), f"{second.name}'s effect was lost to {first.name}"
    world.reconciler.run("converge", world.clock() + 60)  # the scheduled jobs finish what a failure left
    world.account_keys.retire_due()
    assert keys_follow_the_row(world, EMAIL) == [] and stripe_bills_the_row(world, EMAIL) == []
