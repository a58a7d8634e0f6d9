"""Issue 21, "Evidence for every invoice", on fakes: the usage reporter writes each billed call as the
customer's evidence, from the very calls it makes the meter events from, and a period's file lists
exactly the units Stripe was sent for that period."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from testkit.fake_metering import UNIT_AMOUNT, call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.errors import DownstreamError, KeyChangeRefused
from tollgate.domain.evidence import COLUMNS, NO_BILLING_PERIOD
from tollgate.domain.metering import UsageNotReported, UsageReporter
from tollgate.domain.usage import BillableStatuses
from tollgate.domain.usage_counting import UsageTally
from tollgate.plans import PlanCatalog

ADA, BOB = "ada@example.com", "bob@example.com"
STANDARD, FREE, PRO = (TEST_PLANS.get(plan_id) for plan_id in ("standard", "free", "pro"))
PAID_PLANS = PlanCatalog((STANDARD, replace(PRO, requires_payment_method=False), FREE))


def put_calls(world: World, key_id: str, statuses: list[int], *, spacing_ms: int = 10):
    at_ms = int(world.clock() * 1000)
    return world.ledger.put(
        ledger_bytes(
            [call_record(key_id, status=status, at_ms=at_ms + n * spacing_ms) for n, status in enumerate(statuses)]
        )
    )


def period_rows(world: World, customer_id: str, start: int, end: int) -> list[dict[str, str]]:
    file = world.evidence.period_file(customer_id, start, end)
    rows = list(csv.DictReader(io.StringIO(b"".join(world.evidence.read(file)).decode())))
    assert file.rows == len(rows)
    return rows


def test_each_billed_call_is_one_row_and_nothing_else_is():
    world = World.create()
    ada = world.signed_up(ADA)
    at_ms = int(world.clock() * 1000)
    source = world.ledger.put(
        ledger_bytes(
            [
                call_record(ada.api_key_id, status=status, at_ms=at_ms + n)
                for n, status in enumerate((200, 201, 404, 500))
            ]
            + [
                call_record(ada.api_key_id, status=429, error_type="THROTTLED", at_ms=at_ms + 5),
                call_record(ada.api_key_id, resource="/register", status=201, at_ms=at_ms + 6),
                call_record(ada.api_key_id, status=200, at_ms=at_ms + 7),
            ]
        )
    )

    world.reporter.report_object(source)

    rows = period_rows(world, ada.customer_id, 0, 2**31)
    assert len(rows) == world.meter.units(ada.customer_id) == 3
    assert list(rows[0]) == list(COLUMNS)
    assert [(row["status"], row["method"], row["path"], row["plan"], row["price"]) for row in rows] == [
        ("200", "GET", "/prod/hello", "standard", STANDARD.price_id),
        ("201", "GET", "/prod/hello", "standard", STANDARD.price_id),
        ("200", "GET", "/prod/hello", "standard", STANDARD.price_id),
    ]
    assert {(row["unit_amount"], row["currency"]) for row in rows} == {(UNIT_AMOUNT, "usd")}  # the price's, in Stripe
    assert all(row["time"].endswith("Z") and len(row["request_id"]) == 36 for row in rows)


def test_a_redelivered_object_rewrites_the_same_evidence_never_doubles_it():
    world = World.create()
    ada = world.signed_up(ADA)
    source = put_calls(world, ada.api_key_id, [200] * 4)

    world.reporter.report_object(source)
    objects = dict(world.evidence.objects)
    world.reporter.report_object(source)  # redelivered

    assert world.evidence.objects == objects and world.evidence.saves == 2
    assert len(period_rows(world, ada.customer_id, 0, 2**31)) == world.meter.units() == 4


def test_a_plan_change_mid_period_gives_rows_on_each_plan_at_its_price():
    world = World.create(PAID_PLANS)
    world.meter.unit_amounts[PRO.price_id] = "0.5"
    ada = world.signed_up(ADA)
    before = put_calls(world, ada.api_key_id, [200] * 3)
    world.clock.advance(60)
    world.plan_changes.request(world.accounts.get(ADA), "pro", "req-1", "https://shop.example/account")
    world.clock.advance(60)
    after = put_calls(world, ada.api_key_id, [200] * 2)

    for source in (before, after):
        world.reporter.report_object(source)

    rows = period_rows(world, ada.customer_id, 0, 2**31)
    assert [(row["plan"], row["price"], row["unit_amount"]) for row in rows] == [
        ("standard", STANDARD.price_id, UNIT_AMOUNT)
    ] * 3 + [("pro", PRO.price_id, "0.5")] * 2
    assert sorted((event.price_id, event.value) for event in world.meter.events) == sorted(
        [(STANDARD.price_id, 3), (PRO.price_id, 2)]
    )


def test_calls_on_a_free_plan_have_no_evidence_as_they_have_no_invoice():
    world = World.create()
    ada = world.signed_up(ADA, plan_id="free")

    world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 3))

    assert world.evidence.objects == {} and world.meter.events == []


def test_a_period_holds_what_its_meter_events_are_billed_at_and_only_the_customers_own():
    world = World.create()
    ada, bob = world.signed_up(ADA), world.signed_up(BOB)
    start = int(world.clock())
    world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 2))
    world.reporter.report_object(put_calls(world, bob.api_key_id, [200] * 5))
    world.clock.advance(3600)
    end = int(world.clock())
    world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 7))  # the next period's

    assert (
        len(period_rows(world, ada.customer_id, start, end))
        == world.meter.reported_units(ada.customer_id, STANDARD.price_id, start, end)
        == 2
    )
    assert len(period_rows(world, ada.customer_id, end, end + 3600)) == 7


def test_when_the_evidence_cannot_be_written_nothing_is_sent_and_the_object_is_retried():
    world = World.create()
    ada = world.signed_up(ADA)
    source = put_calls(world, ada.api_key_id, [200] * 3)
    world.evidence.fail_next("save", error=DownstreamError("s3", "S3 is down", retryable=True))

    with pytest.raises(UsageNotReported) as failure:
        world.reporter.report_object(source)
    assert failure.value.retryable and world.meter.events == []

    world.reporter.report_object(source)
    assert world.meter.units() == len(period_rows(world, ada.customer_id, 0, 2**31)) == 3


def test_no_meter_event_is_sent_before_the_evidence_of_every_event_of_its_object_is_written(monkeypatch):
    """Money rule: nothing reaches Stripe without its evidence. The writes go in one round before the
    object's first meter event (not one beside each); an event whose evidence failed is not sent, the
    others are, and the object's retry sends the rest once."""
    world = World.create()
    customers = [world.signed_up(f"c{n}@example.com") for n in range(12)]
    at_ms = int(world.clock() * 1000)
    source = world.ledger.put(
        ledger_bytes([call_record(customer.api_key_id, at_ms=at_ms + n) for n, customer in enumerate(customers * 2)])
    )
    send = world.meter.report
    written_when_sent = []
    monkeypatch.setattr(
        world.meter, "report", lambda report: written_when_sent.append(len(world.evidence.objects)) or send(report)
    )
    world.evidence.fail("save", on_call=5, error=DownstreamError("s3", "S3 refused one write", retryable=False))

    with pytest.raises(UsageNotReported) as failure:
        world.reporter.report_object(source)
    assert not failure.value.retryable
    assert written_when_sent == [11] * 11 and world.meter.units() == 22  # all written first; the failed one not sent

    world.reporter.report_object(source)  # the object's retry
    assert world.meter.units() == len(period_rows(world, customers[0].customer_id, 0, 2**31)) * 12 == 24
    assert len(world.meter.events) == 12


def test_the_account_downloads_its_current_periods_file_by_a_short_lived_url():
    world = World.create()
    ada = world.signed_up(ADA)
    start = int(world.clock()) - 60
    world.account_billing.invoices[ada.subscription_id] = UpcomingInvoice(3, "usd", start, start + 30 * 86400)
    world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 3))

    download = world.invoice_evidence.current_period(world.accounts.get(ADA))

    assert (download.file.rows, download.file.start, download.file.end) == (3, start, start + 30 * 86400)
    assert download.url.startswith("https://") and download.file.location in download.url


def test_an_account_with_nothing_billed_is_told_so():
    world = World.create()
    ada = world.signed_up(ADA, plan_id="free")

    with pytest.raises(KeyChangeRefused, match="no subscription"):
        world.invoice_evidence.current_period(ada)
    assert "paid plan" in NO_BILLING_PERIOD


def test_a_customers_closed_days_are_compacted_on_their_first_evidence_of_a_day_and_failures_wait():
    world = World.create()
    ada = world.signed_up(ADA)
    world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 2))
    world.clock.advance(86_400)
    world.evidence.fail_next("compact", error=DownstreamError("s3", "S3 is slow", retryable=True))

    outcome = world.reporter.report_object(put_calls(world, ada.api_key_id, [200] * 3))  # reported all the same
    assert outcome.units_sent == 3 and "S3 is slow" in str(outcome.compaction_failures[0])
    assert world.evidence.compacted == set()

    world.reporter.report_object(put_calls(world, ada.api_key_id, [200]))  # retried with the next object
    world.reporter.report_object(put_calls(world, ada.api_key_id, [200]))  # not again the same day
    yesterday = int(world.clock()) // 86_400 * 86_400 - 86_400
    assert world.evidence.compacted == {(ada.customer_id, yesterday)}
    assert world.evidence.call_count("compact") == 3  # day one, the failure, its retry


def test_an_object_compacts_a_bounded_number_of_customers_and_the_rest_go_with_their_next_objects():
    world = World.create()
    customers = [world.signed_up(f"c{n}@example.com") for n in range(3)]
    reporter = UsageReporter(
        world.ledger,
        world.accounts,
        world.meter,
        world.reports,
        world.evidence,
        UsageTally(world.counts),
        world.usage_limits,
        world.usage_alerts,
        BillableStatuses.parse("2xx"),
        world.plans,
        world.clock,
        compactions_per_object=2,
    )
    calls = [call_record(customer.api_key_id, at_ms=int(world.clock() * 1000)) for customer in customers]

    reporter.report_object(world.ledger.put(ledger_bytes(calls)))
    assert world.evidence.call_count("compact") == 2
    reporter.report_object(world.ledger.put(ledger_bytes(calls)))
    assert world.evidence.call_count("compact") == 3  # the third customer's, the others done today
