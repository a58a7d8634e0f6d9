"""The spend cap through the path the money takes, on fakes: the reporter counts a paid account's calls,
the cap's rule (tollgate.domain.spend_watch.SpendCapRule) measures the billing period's charges and
stops the account with `spend_cap_reached` until the period ends; the account page's choice decides
again at once, so raising or removing the cap restores calls and lowering it stops them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.errors import DownstreamError
from tollgate.domain.metering import UsageNotReported
from tollgate.domain.usage import HOUR_SECONDS
from tollgate.domain.usage_limit import UsageLimit
from tollgate.plans import PlanCatalog

ADA = "ada@example.com"
# The fake meter's price: a tenth of a cent a call (make stripe-setup's default), so 1 USD is 1,000 calls.
CALLS_PER_USD = 1_000
START = 1_800_000_000 // HOUR_SECONDS * HOUR_SECONDS + 1_234  # a billing period starts at any second


def with_standard_default_cap(cap: str) -> PlanCatalog:
    return PlanCatalog(
        tuple(replace(plan, spend_cap_default=cap) if plan.id == "standard" else plan for plan in TEST_PLANS)
    )


def calls(world: World, account: Account, count: int) -> None:
    """`count` billable calls of the account now, in one ledger object the reporter reports; then a minute passes."""
    at_ms = int(world.clock() * 1000)
    world.reporter.report_object(
        world.ledger.put(
            ledger_bytes(
                [call_record(account.api_key_id, account_id=account.account_id, at_ms=at_ms + n) for n in range(count)]
            )
        )
    )
    world.clock.advance(60)


def period_end(world: World, account: Account) -> int:
    state = world.billing.subscription(account.subscription_id or "")
    return state.period_end


def limit_of(world: World, account: Account) -> UsageLimit | None:
    return world.row(account).usage_limit


def item_limits(world: World, account: Account) -> set[tuple[str | None, int | None]]:
    return {(item.usage_limit, item.usage_limit_until) for item in world.key_items.of_account(account.email)}


def capped_customer(world: World, cap: str = "1") -> Account:
    account = world.signed_up(ADA, "standard")
    world.spend_choices.choose(account, f'{{"cap": "{cap}"}}')
    return world.row(account)


def test_spend_cap_reached_stops_a_paid_account_until_its_billing_period_ends() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="1")

    calls(world, account, CALLS_PER_USD - 1)
    assert limit_of(world, account) is None
    calls(world, account, 1)

    end = period_end(world, account)
    assert limit_of(world, account) == UsageLimit(contract.USAGE_LIMIT_SPEND_CAP_REACHED, end, "standard")
    assert item_limits(world, account) == {(contract.USAGE_LIMIT_SPEND_CAP_REACHED, end)}


def test_raising_the_cap_restores_calls_at_once_and_lowering_it_under_the_charges_stops_them_at_once() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="1")
    calls(world, account, CALLS_PER_USD)
    assert limit_of(world, account) is not None

    world.spend_choices.choose(world.row(account), '{"cap": "2"}')
    assert limit_of(world, account) is None and item_limits(world, account) == {(None, None)}

    world.spend_choices.choose(world.row(account), '{"cap": "0.50"}')  # no call made meanwhile
    assert limit_of(world, account) == UsageLimit(
        contract.USAGE_LIMIT_SPEND_CAP_REACHED, period_end(world, account), "standard"
    )


def test_removing_the_cap_restores_calls_at_once() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="1")
    calls(world, account, CALLS_PER_USD)

    world.spend_choices.choose(world.row(account), '{"noCap": true}')

    assert limit_of(world, account) is None and item_limits(world, account) == {(None, None)}


def test_the_plans_default_cap_stops_a_customer_who_chose_none() -> None:
    world = World.create(with_standard_default_cap("1"), start=START)
    account = world.signed_up(ADA, "standard")

    calls(world, account, CALLS_PER_USD)

    assert limit_of(world, account) is not None


def test_a_new_billing_period_starts_from_no_charges() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="1")
    calls(world, account, CALLS_PER_USD)
    world.clock.now = period_end(world, account)
    world.billing.renew(account.subscription_id or "")

    calls(world, account, 1)

    assert limit_of(world, account) is None


def test_the_hour_holding_the_billing_periods_start_counts_whole_so_the_charges_are_never_under_the_invoices() -> None:
    world = World.create(start=START - 1_000)  # in the hour holding the period's start, before it
    account = world.signed_up(ADA, "standard")
    world.billing.subscriptions[account.subscription_id or ""]["period_start"] = START
    calls(world, account, CALLS_PER_USD // 2)
    world.clock.now = START
    world.spend_choices.choose(world.row(account), '{"cap": "1"}')

    calls(world, account, CALLS_PER_USD // 2)

    assert limit_of(world, account) is not None


def test_a_tiered_price_is_never_capped_its_charges_being_known_only_on_the_invoice() -> None:
    world = World.create(with_standard_default_cap("1"), start=START)
    world.meter.unit_amounts["price_1"] = ""
    account = world.signed_up(ADA, "standard")

    calls(world, account, CALLS_PER_USD * 2)

    assert limit_of(world, account) is None


def test_the_billing_period_is_read_from_stripe_once_per_subscription_and_period() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="100")
    before = world.billing.call_count("subscription")

    for _ in range(5):
        calls(world, account, 3)

    assert world.billing.call_count("subscription") - before == 0  # read when the cap was chosen


def test_stripe_failing_while_the_cap_is_decided_retries_the_object_counting_nothing_twice() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="1")
    world.billing_periods._known.clear()  # a new process: the period is read again
    world.billing.fail_next("subscription")
    source = world.ledger.put(
        ledger_bytes(
            [
                call_record(account.api_key_id, account_id=account.account_id, at_ms=int(world.clock() * 1000) + n)
                for n in range(CALLS_PER_USD)
            ]
        )
    )

    with pytest.raises(UsageNotReported) as failed:
        world.reporter.report_object(source)
    assert failed.value.retryable
    world.reporter.report_object(source)  # the queue's redelivery

    assert limit_of(world, account) is not None
    assert world.meter.units_by_price() == {"price_1": CALLS_PER_USD}


def test_a_cap_chosen_while_stripe_cannot_say_the_period_is_kept_and_decided_when_chosen_again() -> None:
    world = World.create(start=START)
    account = capped_customer(world, cap="5")
    calls(world, account, CALLS_PER_USD)
    world.billing_periods._known.clear()
    world.billing.fail_next("subscription")

    with pytest.raises(DownstreamError):
        world.spend_choices.choose(world.row(account), '{"cap": "1"}')
    assert world.row(account).spend_settings is not None and limit_of(world, account) is None
    world.spend_choices.choose(world.row(account), '{"cap": "1"}')

    assert limit_of(world, account) is not None
