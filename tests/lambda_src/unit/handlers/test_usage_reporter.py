"""Issue 10: the usage reporter on fakes, through its Lambda handler (an SQS event announcing ledger
objects, as the queue delivers it), from access-log lines in the stage's own format to meter
events on a fake Stripe meter."""

from __future__ import annotations

import json

import pytest

from testkit.fake_metering import call_record, ledger_bytes, s3_notification, sqs_event
from testkit.lambda_events import LambdaContext
from testkit.metering_on_fakes import MeteringOnFakes
from tollgate import contract
from tollgate.domain.account import AccountStatus
from tollgate.domain.errors import DownstreamError
from tollgate.domain.usage import STRIPE_DEDUP_WINDOW_SECONDS, ReportState
from tollgate.handlers.usage_reporter import RETRY_CAP_SECONDS, retry_delay_seconds


@pytest.fixture
def metering() -> MeteringOnFakes:
    fakes = MeteringOnFakes.create()
    fakes.add_customer("key-ada", "cus_ada")
    return fakes


def failed_messages(answer: dict) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


def test_n_billable_calls_become_n_units_in_one_meter_event(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(7)]))

    assert failed_messages(metering.deliver(source)) == []

    (event,) = metering.meter.events
    assert (event.customer_id, event.value) == ("cus_ada", 7)
    assert len(event.identifier) <= 100  # Stripe's limit
    assert event.timestamp <= metering.clock()  # the latest call's time, never ahead of now
    assert metering.reports.records[event.identifier].state is ReportState.REPORTED
    assert metering.reports.summaries[source].billable == 7
    assert {name: metering.metrics.total(name) for name in metering.metrics.names()} == {
        contract.METRIC_LEDGER_OBJECTS: 1,
        contract.METRIC_BILLABLE_CALLS: 7,
        contract.METRIC_USAGE_UNITS_REPORTED: 7,
        contract.METRIC_METER_EVENTS_SENT: 1,
    }


def test_calls_api_gateway_answered_itself_and_failed_calls_are_not_billed(metering):
    source = metering.ledger.put(
        ledger_bytes(
            [
                call_record(None, status=403, error_type="INVALID_API_KEY"),  # bad key: no key id at all
                call_record("key-ada", status=403, error_type="ACCESS_DENIED"),
                call_record("key-ada", status=429, error_type="THROTTLED"),
                call_record("key-ada", status=429, error_type="QUOTA_EXCEEDED"),
                call_record("key-ada", status=429, integration_ms=None),  # a gateway 429 whose log lacks the type
                call_record("key-ada", status=502),  # the backend failed
                call_record("key-ada", status=500),
                call_record("key-ada", status=504, error_type="INTEGRATION_TIMEOUT"),
                call_record(None, resource="/register", status=201),  # not a metered route
                call_record("key-ada", status=200),
            ]
        )
    )

    metering.deliver(source)

    assert metering.meter.units("cus_ada") == 1


def test_billable_statuses_take_classes_and_exact_codes():
    fakes = MeteringOnFakes.create(billable_statuses="2xx,404")
    fakes.add_customer("key-ada", "cus_ada")
    source = fakes.ledger.put(
        ledger_bytes([call_record("key-ada", status=status) for status in (200, 201, 404, 400, 429, 500)])
    )

    fakes.deliver(source)

    assert fakes.meter.units("cus_ada") == 3


def test_the_same_batch_delivered_twice_is_billed_once(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(5)]))

    metering.deliver(source)
    metering.deliver(source)  # S3, SQS or a Lambda retry delivering it again
    metering.deliver(source, source)

    assert metering.meter.units() == 5
    assert metering.meter.call_count("report") == 1  # the table knew: Stripe was not even asked again
    assert metering.metrics.total(contract.METRIC_USAGE_UNITS_REPORTED) == 5  # units reported are counted once
    assert metering.metrics.total(contract.METRIC_METER_EVENTS_ALREADY_REPORTED) == 3


@pytest.mark.parametrize("answer_lost", [False, True], ids=["refused", "answer-lost"])
def test_stripe_failing_at_the_kth_call_then_recovering_still_bills_each_call_once(metering, answer_lost):
    for number in range(1, 6):
        metering.add_customer(f"key-{number}", f"cus_{number}")
    source = metering.ledger.put(
        ledger_bytes([call_record(f"key-{number}") for number in range(1, 6) for _ in range(number)])
    )
    metering.meter.fail("report", on_call=3, answer_lost=answer_lost)

    first = metering.deliver(source)
    second = metering.deliver(source, receive_count=2)

    assert len(failed_messages(first)) == 1 and failed_messages(second) == []
    assert {customer: metering.meter.units(customer) for customer in (f"cus_{n}" for n in range(1, 6))} == {
        "cus_1": 1,
        "cus_2": 2,
        "cus_3": 3,
        "cus_4": 4,
        "cus_5": 5,
    }
    assert metering.meter.units() == 15


def test_a_failed_delivery_is_retried_later_and_later_each_time(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada")]))
    metering.meter.fail("report", times=None)

    for receive_count in (1, 2, 3):
        assert len(failed_messages(metering.deliver(source, receive_count=receive_count))) == 1

    assert [delay for _, _, delay in metering.queues.delays] == [60, 120, 240]
    assert [retry_delay_seconds(count) for count in (7, 8, 12)] == [RETRY_CAP_SECONDS] * 3
    assert metering.meter.units() == 0
    assert metering.metrics.total(contract.METRIC_USAGE_REPORT_FAILURES) == 3  # each one sets the alarm off
    assert metering.metrics.total(contract.METRIC_USAGE_UNITS_REPORTED) == 0


def test_one_failing_message_does_not_hold_back_the_others_of_the_batch(metering):
    good = metering.ledger.put(ledger_bytes([call_record("key-ada")]))
    missing = metering.ledger.put(ledger_bytes([call_record("key-ada")]))
    del metering.ledger.objects[missing]
    metering.ledger.fail("read", on_call=2, error=DownstreamError("s3", "gone"))
    event = sqs_event(s3_notification(good), s3_notification(missing))

    answer = metering.function.handler(event, LambdaContext())

    assert failed_messages(answer) == [event["Records"][1]["messageId"]]
    assert metering.meter.units() == 1


def test_calls_of_an_unknown_key_are_counted_apart_and_kept(metering):
    source = metering.ledger.put(
        ledger_bytes([call_record("key-ada"), call_record("key-deleted"), call_record("key-deleted")])
    )

    assert failed_messages(metering.deliver(source)) == []

    assert metering.meter.units() == 1
    assert metering.reports.summaries[source].unknown_keys == {"key-deleted": 2}
    assert source in metering.ledger.objects  # the evidence stays
    assert metering.metrics.total(contract.METRIC_UNKNOWN_KEY_CALLS) == 2


def test_a_malformed_record_is_skipped_and_counted_and_the_rest_reported(metering):
    lines = [
        call_record("key-ada"),
        '{"resourcePath": "/{proxy+}", "apiKeyId": "key-ada", "status": ',
        "not json at all",
        call_record("key-ada", at_ms="yesterday"),
        call_record("key-ada"),
    ]
    source = metering.ledger.put(ledger_bytes(lines))

    assert failed_messages(metering.deliver(source)) == []

    assert metering.meter.units("cus_ada") == 2
    assert metering.reports.summaries[source].malformed == 3
    assert metering.metrics.total(contract.METRIC_MALFORMED_RECORDS) == 3


def test_records_written_back_to_back_without_a_delimiter_are_all_read(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(4)], delimiter=""))

    metering.deliver(source)

    assert metering.meter.units() == 4


def test_a_10000_record_batch_costs_one_stripe_call_per_customer(metering):
    customers = [f"cus_{number}" for number in range(25)]
    for number, customer in enumerate(customers):
        metering.add_customer(f"key-{number}", customer)
    source = metering.ledger.put(ledger_bytes([call_record(f"key-{index % 25}") for index in range(10_000)]))

    metering.deliver(source)

    assert metering.meter.call_count("report") == 25
    assert {event.value for event in metering.meter.events} == {400}
    assert metering.accounts.call_count("find_by_api_key_id") == 25  # one lookup per key per batch


def test_a_report_pending_past_stripes_24_hours_is_never_resent_on_its_own(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(3)]))
    metering.meter.fail("report", answer_lost=True)  # Stripe took it; the answer never came back
    metering.deliver(source)
    metering.clock.advance(STRIPE_DEDUP_WINDOW_SECONDS + 60)  # say, redriven from the dead letters a day later

    assert failed_messages(metering.deliver(source, receive_count=13)) == []

    assert metering.meter.call_count("report") == 1
    (pending,) = metering.reports.pending_since_before(int(metering.clock() - STRIPE_DEDUP_WINDOW_SECONDS))
    assert pending.report.value == 3
    assert metering.metrics.total(contract.METRIC_AMBIGUOUS_REPORTS) == 1


def test_a_report_pending_within_24_hours_is_resent_and_stripe_deduplicates_it(metering):
    source = metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(3)]))
    metering.meter.fail("report", answer_lost=True)
    metering.deliver(source)
    metering.clock.advance(STRIPE_DEDUP_WINDOW_SECONDS - 3600)

    metering.deliver(source, receive_count=2)

    assert metering.meter.call_count("report") == 2
    assert metering.meter.units() == 3
    assert metering.reports.pending_since_before(int(metering.clock()) + 1) == []


def test_the_test_event_s3_sends_when_notifications_are_set_up_is_ignored(metering):
    event = sqs_event(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "ledger"}))

    assert failed_messages(metering.function.handler(event, LambdaContext())) == []
    assert metering.meter.events == []


def test_while_stripe_is_down_an_object_costs_one_round_of_calls_not_one_per_customer(metering):
    for number in range(40):
        metering.add_customer(f"key-{number}", f"cus_{number}")
    source = metering.ledger.put(ledger_bytes([call_record(f"key-{number}") for number in range(40)]))
    metering.meter.fail("report", times=None)

    assert len(failed_messages(metering.deliver(source))) == 1

    assert metering.meter.call_count("report") <= 8  # the calls already in flight when the first failed
    metering.meter.fail("report", times=0)  # Stripe is back
    metering.deliver(source, receive_count=2)
    assert metering.meter.units() == 40


def test_the_event_carries_the_latest_call_time_never_a_time_ahead_of_now(metering):
    now_ms = int(metering.clock() * 1000)
    metering.add_customer("key-bob", "cus_bob")
    source = metering.ledger.put(
        ledger_bytes(
            [
                call_record("key-ada", at_ms=now_ms - 50_000),
                call_record("key-ada", at_ms=now_ms - 20_000),
                call_record("key-bob", at_ms=now_ms + 600_000),
            ]
        )
    )  # a skewed clock: 10 minutes ahead

    metering.deliver(source)

    timestamps = {event.customer_id: event.timestamp for event in metering.meter.events}
    assert timestamps == {"cus_ada": (now_ms - 20_000) // 1000, "cus_bob": int(metering.clock())}


def test_the_last_calls_of_a_key_the_housekeeping_deleted_still_reach_its_customer(metering):
    metering.add_customer("key-gone", "cus_gone")
    row = metering.accounts.rows["key-gone@example.com"]
    metering.accounts.rows[row.email] = row.with_status(AccountStatus.CANCELED, 1, "canceled").with_keys_deleted(
        2, "gone"
    )
    source = metering.ledger.put(ledger_bytes([call_record("key-gone") for _ in range(2)]))

    metering.deliver(source)

    assert metering.meter.units("cus_gone") == 2 and metering.metrics.total(contract.METRIC_UNKNOWN_KEY_CALLS) == 0
