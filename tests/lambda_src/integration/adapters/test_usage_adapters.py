"""Issue 10: the usage-metering adapters against their services, offline: DynamoUsageReports and
S3UsageLedger on moto, StripeUsageMeter on the Stripe bridge."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
import stripe

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from testkit.fake_metering import ledger_key
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_usage_reports import DynamoUsageReports
from tollgate.adapters.s3_usage_ledger import S3UsageLedger
from tollgate.adapters.stripe_client import StripeClientForSecret
from tollgate.adapters.stripe_usage_meter import StripeUsageMeter
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.metering import meter_event_identifier
from tollgate.domain.usage import BatchSummary, LedgerObject, MeterReport, ReportState


def report(customer_id: str = "cus_1", value: int = 3, timestamp: int | None = None,
           price_id: str = "price_1") -> MeterReport:
    source = LedgerObject("ledger-bucket", ledger_key())
    return MeterReport(meter_event_identifier(source, customer_id, None), customer_id, value,
                       timestamp or int(time.time()), source, price_id)


@pytest.fixture
def reports(aws) -> DynamoUsageReports:
    return DynamoUsageReports(AwsClients().client("dynamodb"), aws.usage.reports_table)


def test_usage_reports_go_pending_then_reported_keeping_the_first_attempt(reports):
    sent = report()

    first = reports.mark_pending(sent, now=1_000)
    again = reports.mark_pending(sent, now=2_000)
    reports.mark_reported(sent, now=2_001)

    assert (first.state, first.first_attempt_at, first.report) == (ReportState.PENDING, 1_000, sent)
    assert again.first_attempt_at == 1_000
    assert reports.get(sent.identifier).state is ReportState.REPORTED
    assert reports.mark_pending(sent, now=3_000).state is ReportState.REPORTED  # never back to pending


def test_the_pending_index_lists_only_reports_still_pending_oldest_first(reports):
    old, older, done = report("cus_old"), report("cus_older"), report("cus_done")
    reports.mark_pending(old, now=500)
    reports.mark_pending(older, now=400)
    reports.mark_pending(done, now=300)
    reports.mark_reported(done, now=301)

    pending = reports.pending_since_before(450)

    assert [record.report.customer_id for record in pending] == ["cus_older"]
    assert [record.report.identifier for record in reports.pending_since_before(600)] == [older.identifier,
                                                                                        old.identifier]


def test_an_object_summary_round_trips(reports):
    summary = BatchSummary(LedgerObject("ledger-bucket", ledger_key()), records=10, malformed=1, billable=8,
                           customers=2, unknown_keys={"key-gone": 1}, ambiguous=0, reported_at=1_234, billed=6)

    reports.save_summary(summary)

    assert reports.summary(summary.source) == summary
    assert reports.summary(LedgerObject("ledger-bucket", "ledger/never")) is None


def test_the_latest_summary_is_the_newest_report_whatever_order_they_are_saved_in(reports):
    def summary(reported_at: int) -> BatchSummary:
        return BatchSummary(LedgerObject("ledger-bucket", ledger_key()), records=1, malformed=0, billable=1,
                            customers=1, unknown_keys={}, ambiguous=0, reported_at=reported_at)

    newest, older = summary(2_000_000_000), summary(1_999_999_000)
    reports.save_summary(newest)
    reports.save_summary(older)  # two objects reported at once: the older one finished last

    assert reports.latest_summary() == newest
    assert reports.summary(older.source) == older


def test_the_latest_billed_summary_is_the_newest_that_billed_a_call(reports):
    """make status's "last billed": a newer object of calls nothing bills (a 403, a free plan's) does not hide it."""
    def summary(reported_at: int, billed: int) -> BatchSummary:
        return BatchSummary(LedgerObject("ledger-bucket", ledger_key()), records=3, malformed=0, billable=3,
                            customers=1 if billed else 0, reported_at=reported_at, billed=billed)

    billed, older_billed, nothing_billed = summary(1_999_999_500, 3), summary(1_999_999_400, 2), summary(1_999_999_600, 0)
    for saved in (billed, nothing_billed, older_billed):
        reports.save_summary(saved)

    assert reports.latest_billed_summary() == billed
    assert reports.summary(nothing_billed.source) == nothing_billed


def test_the_ledger_lists_the_objects_of_the_hours_around_a_period(aws):
    s3 = boto3.client("s3")
    now = int(time.time())
    keys = [ledger_key(now - 3 * 3600), ledger_key(now - 3600), ledger_key(now)]
    for key in keys:
        s3.put_object(Bucket=aws.usage.ledger_bucket, Key=key, Body=b"{}")
    ledger = S3UsageLedger(s3, aws.usage.ledger_bucket)

    listed = {source.key for source in ledger.objects_between(now - 60, now)}

    assert set(keys[1:]) <= listed and keys[0] not in listed
    assert ledger.read(LedgerObject(aws.usage.ledger_bucket, keys[0])) == b"{}"


@pytest.fixture
def meter(stripe_api: str, price_id: str) -> StripeUsageMeter:
    return StripeUsageMeter(StripeClientForSecret(lambda: STRIPE_TEST_SECRET_KEY, stripe_api), price_id)


def test_the_meter_is_found_from_the_price_and_a_repeat_is_answered_already_reported(
        meter: StripeUsageMeter, stripe_client: stripe.StripeClient, price_id: str):
    customer = stripe_client.v1.customers.create(params={"email": f"{uuid.uuid4().hex[:8]}@example.com"})
    now = int(time.time())
    sent = report(customer.id, value=4, timestamp=now, price_id="")  # a report from before plans: the default price

    assert meter.report(sent) is True
    assert meter.report(sent) is False  # Stripe's 400 "An event already exists with identifier ..."
    start = now - now % 60
    assert meter.reported_units(customer.id, price_id, start, start + 60) == 4
    assert meter.spec(price_id).event_name == stripe_client.v1.billing.meters.retrieve(meter.spec(price_id).meter_id).event_name


def test_a_price_without_a_meter_is_a_configuration_error_naming_it(stripe_api: str, stripe_client: stripe.StripeClient):
    product = stripe_client.v1.products.create(params={"name": "Licensed"})
    price = stripe_client.v1.prices.create(params={"currency": "usd", "product": product.id, "unit_amount": 100,
                                                   "recurring": {"interval": "month"}})
    meter = StripeUsageMeter(StripeClientForSecret(lambda: STRIPE_TEST_SECRET_KEY, stripe_api), None)

    with pytest.raises(ConfigurationError, match=f"stripe_price_id {price.id} is not billed through a Stripe billing"):
        meter.spec(price.id)


def test_a_customers_billable_calls_this_period_come_from_the_by_customer_index(reports):
    """Issue 12: the account page's usage, from the reporter's per-object reports (pending ones too)."""
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    for value, timestamp in ((4, 1_000), (3, 1_999), (100, 2_000), (9, 999)):
        reports.mark_pending(report(customer, value, timestamp), now=timestamp)
    reported = report(customer, 5, 1_500)
    reports.mark_pending(reported, now=1_500)
    reports.mark_reported(reported, now=1_501)
    reports.mark_pending(report("cus_someone_else", 50, 1_500), now=1_500)

    assert reports.billable_calls(customer, 1_000, 2_000) == 4 + 3 + 5
    assert reports.billable_calls("cus_nobody", 0, 10**10) == 0
