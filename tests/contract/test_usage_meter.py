"""The UsageMeter port (tollgate.domain.ports.metering): FakeUsageMeter and StripeUsageMeter on the
Stripe bridge (its meters, gap 5, and meter event summaries, gap 10) answer alike.

What "every billable call is reported once, on the plan it was made on" rests on: a meter event is
counted once per identifier (a repeat is answered False), on the meter of the price it names (a
report naming none goes to the default plan's price), and what a customer used of a price's meter
in [start, end) is the sum of their events in it, nobody else's and no other meter's. Each price's
unit amount is Stripe's (the evidence shows it beside every billed call)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from testkit.fake_metering import FakeUsageMeter, ledger_key
from tollgate.domain.evidence import UnitPrice
from tollgate.domain.metering import meter_event_identifier
from tollgate.domain.ports.metering import UsageMeter
from tollgate.domain.usage import LedgerObject, MeterReport

MINUTE = 60


@dataclass
class Meters:
    """The port on a Stripe account with two paid plans' prices (`default_price` is the default
    plan's), and how a customer is made there."""

    port: UsageMeter
    default_price: str
    other_price: str
    new_customer: Callable[[], str]


@pytest.fixture(scope="module", params=["fake", "stripe"])
def meters(request) -> Iterator[Meters]:
    if request.param == "fake":
        yield Meters(
            FakeUsageMeter(default_price_id="price_1", unit_amounts={"price_pro": "0.5"}),
            "price_1",
            "price_pro",
            lambda: f"cus_{uuid.uuid4().hex[:14]}",
        )
        return
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from tollgate.adapters.stripe_client import StripeClientForSecret
    from tollgate.adapters.stripe_usage_meter import StripeUsageMeter

    client = StripeClientForSecret(lambda: STRIPE_TEST_SECRET_KEY, request.getfixturevalue("stripe_api"))
    price_id, second_price_id = request.getfixturevalue("price_id"), request.getfixturevalue("second_price_id")
    yield Meters(
        StripeUsageMeter(client, price_id),
        price_id,
        second_price_id,
        lambda: client().v1.customers.create({"email": f"{uuid.uuid4().hex[:8]}@example.com"}).id,
    )


def this_minute() -> int:
    now = int(time.time())
    return now - now % MINUTE - MINUTE  # a whole minute that has begun already (Stripe takes no future events)


def report(customer_id: str, price_id: str, value: int, timestamp: int) -> MeterReport:
    source = LedgerObject("ledger-bucket", ledger_key(timestamp))
    return MeterReport(
        meter_event_identifier(source, customer_id, price_id), customer_id, value, timestamp, source, price_id
    )


def test_a_report_is_counted_once_and_its_repeat_is_answered_false(meters):
    customer, minute = meters.new_customer(), this_minute()
    sent = report(customer, meters.default_price, 4, minute + 5)

    assert meters.port.report(sent) is True
    assert meters.port.report(sent) is False  # Stripe's "An event already exists with identifier ..."
    assert meters.port.report(replace(sent, value=9, timestamp=minute + 6)) is False  # whatever it says now

    assert meters.port.reported_units(customer, meters.default_price, minute, minute + MINUTE) == 4


def test_usage_is_summed_per_customer_per_price_over_the_range_asked(meters):
    someone, someone_else, minute = meters.new_customer(), meters.new_customer(), this_minute() - MINUTE
    for customer, price, value, at in (
        (someone, meters.default_price, 4, minute + 1),
        (someone, meters.default_price, 2, minute + MINUTE + 1),
        (someone, meters.other_price, 5, minute + 2),
        (someone_else, meters.default_price, 7, minute + 3),
    ):
        assert meters.port.report(report(customer, price, value, at))

    assert meters.port.reported_units(someone, meters.default_price, minute, minute + MINUTE) == 4
    assert meters.port.reported_units(someone, meters.default_price, minute, minute + 2 * MINUTE) == 6
    assert meters.port.reported_units(someone, meters.other_price, minute, minute + 2 * MINUTE) == 5
    assert meters.port.reported_units(someone_else, meters.default_price, minute, minute + 2 * MINUTE) == 7
    assert meters.port.reported_units(someone, meters.default_price, minute - 5 * MINUTE, minute) == 0


def test_a_report_naming_no_price_is_counted_on_the_default_plans_price_only(meters):
    """A report kept from before plans existed ("": tollgate.domain.usage.MeterReport.price_id)."""
    customer, minute = meters.new_customer(), this_minute()

    assert meters.port.report(report(customer, "", 3, minute + 7))

    assert meters.port.reported_units(customer, meters.default_price, minute, minute + MINUTE) == 3
    assert meters.port.reported_units(customer, meters.other_price, minute, minute + MINUTE) == 0


def test_each_price_has_its_own_unit_amount_and_no_price_means_the_default_plans(meters: Meters):
    # conftest's prices, made as make stripe-setup makes them: 0.1 and 0.5 of a cent a call
    assert meters.port.unit_price(meters.default_price) == meters.port.unit_price("") == UnitPrice("0.1", "usd")
    assert meters.port.unit_price(meters.other_price) == UnitPrice("0.5", "usd")
