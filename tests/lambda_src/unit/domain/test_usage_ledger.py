"""Issue 10: reading the usage ledger (tollgate.domain.usage), shared by the reporter and the
reconciliation report."""

from __future__ import annotations

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from tollgate import contract
from tollgate.domain.usage import BillableStatuses, MalformedRecord, metered_call, read_ledger

TWO_XX = BillableStatuses.parse("2xx")


@pytest.mark.parametrize(
    "text, billed, not_billed",
    [
        ("2xx", [200, 204, 299], [199, 300, 404, 500]),
        ("2xx,304", [200, 304], [301, 404]),
        (" 2XX , 404 ", [201, 404], [403, 500]),
        ("200", [200], [201]),
    ],
)
def test_billable_statuses_accept_classes_and_codes(text, billed, not_billed):
    statuses = BillableStatuses.parse(text)

    assert all(status in statuses for status in billed)
    assert not any(status in statuses for status in not_billed)


@pytest.mark.parametrize("text", ["", "2x", "20", "600", "2xx,abc", "2xxx", "ok"])
def test_billable_statuses_refuse_anything_else_naming_it(text):
    with pytest.raises(ValueError, match="status class like 2xx"):
        BillableStatuses.parse(text)


def test_plain_and_gzip_objects_read_alike():
    lines = [call_record("key-1"), call_record("key-1", status=500)]

    assert read_ledger(ledger_bytes(lines), TWO_XX) == read_ledger("\n".join(lines).encode(), TWO_XX)


def test_metered_calls_and_billable_calls_are_counted_per_key():
    usage = read_ledger(
        ledger_bytes(
            [
                call_record("key-1", at_ms=1_000),
                call_record("key-1", status=404, at_ms=5_000),
                call_record("key-2", at_ms=3_000),
                call_record("key-2", status=429, error_type="THROTTLED"),
            ]
        ),
        TWO_XX,
    )

    assert usage.records == 4 and usage.malformed == 0 and usage.billable == 2
    assert (usage.by_caller["key-1"].calls, usage.by_caller["key-1"].billable) == (2, 1)
    assert usage.by_caller["key-1"].last_billable_at_ms == 1_000  # the 404 is not billed
    assert usage.by_caller["key-2"].calls == 1  # the throttled call never reached the backend


def test_only_calls_inside_the_period_count_when_one_is_given():
    usage = read_ledger(
        ledger_bytes([call_record("key-1", at_ms=at) for at in (999, 1_000, 1_999, 2_000)]),
        TWO_XX,
        start_ms=1_000,
        end_ms=2_000,
    )

    assert usage.by_caller["key-1"].billable == 2


def test_a_broken_record_in_concatenated_records_costs_only_itself():
    good = call_record("key-1")
    data = (good + '{"apiKeyId": "key-1", "status": 2' + good + good).encode()

    usage = read_ledger(data, TWO_XX)

    assert (usage.records, usage.malformed, usage.billable) == (4, 1, 3)


def test_json_that_is_not_a_record_is_malformed():
    usage = read_ledger(ledger_bytes(["[1, 2]", "42", call_record("key-1")]), TWO_XX)

    assert (usage.malformed, usage.billable) == (2, 1)


@pytest.mark.parametrize("status", [contract.ACCESS_LOG_MISSING_VALUE, "", None, "abc", "2.5"])
def test_a_metered_call_whose_status_is_missing_or_not_a_number_is_malformed(status):
    record = {
        contract.ACCESS_LOG_RESOURCE_PATH: contract.ROUTE_METERED_PROXY,
        contract.ACCESS_LOG_API_KEY_ID: "key-1",
        contract.ACCESS_LOG_STATUS: status,
        contract.ACCESS_LOG_REQUEST_TIME_EPOCH: 1_000,
    }

    with pytest.raises(MalformedRecord, match=f"{contract.ACCESS_LOG_STATUS} is .*, not a number"):
        metered_call(record)
