"""The UsageReports port (tollgate.domain.ports.metering): FakeUsageReports and DynamoUsageReports on
moto answer alike.

What the usage reporter's exactly-once rests on (a report goes pending before it is sent, keeps its
first attempt's time, and is never pending again once reported; the still-pending ones are listed
oldest first), what the account page reads (a customer's billable calls in a period, pending ones
included) and what `make status` shows (the newest summary, and the newest one that billed a call)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from testkit.fake_metering import FakeUsageReports, ledger_key
from tollgate.adapters.dynamo_usage_reports import DynamoUsageReports
from tollgate.domain.metering import meter_event_identifier
from tollgate.domain.ports.metering import UsageReports
from tollgate.domain.usage import BatchSummary, LedgerObject, MeterReport, ReportState

BUCKET = "ledger-bucket"


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def reports(request) -> Iterator[UsageReports]:
    if request.param == "fake":
        yield FakeUsageReports()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoUsageReports(request.getfixturevalue("aws_clients").client("dynamodb"), aws.usage.reports_table)


def report(
    customer_id: str | None = None, value: int = 3, timestamp: int | None = None, price_id: str = "price_1"
) -> MeterReport:
    customer_id = customer_id or f"cus_{uuid.uuid4().hex[:8]}"
    source = LedgerObject(BUCKET, ledger_key())
    return MeterReport(
        meter_event_identifier(source, customer_id, price_id),
        customer_id,
        value,
        timestamp or int(time.time()),
        source,
        price_id,
    )


def summary(reported_at: int, billed: int = 0) -> BatchSummary:
    return BatchSummary(
        LedgerObject(BUCKET, ledger_key()),
        records=3,
        malformed=0,
        billable=3,
        customers=1 if billed else 0,
        reported_at=reported_at,
        billed=billed,
    )


def test_a_report_goes_pending_then_reported_keeping_its_first_attempt_and_never_back(reports):
    sent = report()
    assert reports.get(sent.identifier) is None

    first = reports.mark_pending(sent, now=1_000)
    again = reports.mark_pending(sent, now=2_000)  # a retry
    reports.mark_reported(sent, now=2_001)

    assert (first.state, first.first_attempt_at, first.report) == (ReportState.PENDING, 1_000, sent)
    assert (again.state, again.first_attempt_at) == (ReportState.PENDING, 1_000)
    assert reports.get(sent.identifier).state is ReportState.REPORTED
    assert reports.mark_pending(sent, now=3_000).state is ReportState.REPORTED  # a redelivery after it was sent
    assert reports.get(sent.identifier).report == sent


def test_a_report_from_before_plans_keeps_naming_no_price(reports):
    """("": the default plan's price, tollgate.domain.usage.MeterReport)."""
    sent = report(price_id="")

    assert reports.mark_pending(sent, now=1_000).report.price_id == ""


def test_only_reports_still_pending_are_listed_oldest_attempt_first(reports):
    old, older, done = report(), report(), report()
    reports.mark_pending(old, now=500)
    reports.mark_pending(older, now=400)
    reports.mark_pending(done, now=300)
    reports.mark_reported(done, now=301)

    assert [record.report for record in reports.pending_since_before(450)] == [older]
    assert [record.report for record in reports.pending_since_before(600)] == [older, old]


def test_an_object_summary_round_trips_and_an_unknown_object_has_none(reports):
    saved = BatchSummary(
        LedgerObject(BUCKET, ledger_key()),
        records=10,
        malformed=1,
        billable=8,
        customers=2,
        unknown_keys={"key-gone": 1},
        ambiguous=0,
        reported_at=1_234,
        billed=6,
    )

    reports.save_summary(saved)

    assert reports.summary(saved.source) == saved
    assert reports.summary(LedgerObject(BUCKET, "ledger/never")) is None


def test_the_latest_summary_is_the_newest_report_whatever_order_they_are_saved_in(reports):
    newest, older = summary(2_000_000_000), summary(1_999_999_000)
    reports.save_summary(newest)
    reports.save_summary(older)  # two objects reported at once: the older one finished last

    assert reports.latest_summary() == newest
    assert reports.summary(older.source) == older


def test_the_latest_billed_summary_is_the_newest_that_billed_a_call(reports):
    """make status's "last billed": a newer object of calls nothing bills (a 403, a free plan's) does not hide it."""
    billed, older_billed, nothing_billed = (
        summary(1_999_999_500, 3),
        summary(1_999_999_400, 2),
        summary(1_999_999_600, 0),
    )
    for saved in (billed, nothing_billed, older_billed):
        reports.save_summary(saved)

    assert reports.latest_billed_summary() == billed
    assert reports.summary(nothing_billed.source) == nothing_billed


def test_a_customers_billable_calls_in_a_period_count_pending_and_reported_reports(reports):
    """The account page's usage: the reports whose latest call falls in [start, end)."""
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    for value, timestamp in ((4, 1_000), (3, 1_999), (100, 2_000), (9, 999)):
        reports.mark_pending(report(customer, value, timestamp), now=timestamp)
    reported = report(customer, 5, 1_500)
    reports.mark_pending(reported, now=1_500)
    reports.mark_reported(reported, now=1_501)
    reports.mark_pending(report(None, 50, 1_500), now=1_500)  # someone else's

    assert reports.billable_calls(customer, 1_000, 2_000) == 4 + 3 + 5
    assert reports.billable_calls(f"cus_{uuid.uuid4().hex[:8]}", 0, 10**10) == 0
