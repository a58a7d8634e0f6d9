"""The UsageEvidence port (tollgate.domain.ports.metering): FakeUsageEvidence and S3UsageEvidence on moto answer alike.

What the usage reporter, the account page and `make evidence` rely on: a batch saved twice is one
object; a period's file is a header and the rows of the customer's batches billed in [start, end),
oldest first, and nobody else's; the download URL is signed and short-lived; compacting closed days
never changes a period's file, not even when a batch arrives late into a compacted day."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from testkit.fake_metering import FakeUsageEvidence
from tollgate import contract
from tollgate.adapters.s3_usage_evidence import S3UsageEvidence
from tollgate.domain.evidence import COLUMNS, BilledCall, EvidenceBatch
from tollgate.domain.ports.metering import UsageEvidence
from tollgate.domain.usage import MeteredCall

START = 1_800_000_000
DAY = 86_400
NOW = START + 20 * DAY  # the S3 adapter's clock: the days after START are closed


@pytest.fixture(scope="module", params=["fake", "s3"])
def evidence(request) -> Iterator[UsageEvidence]:
    if request.param == "fake":
        yield FakeUsageEvidence()
        return
    bucket = request.getfixturevalue("aws").usage.ledger_bucket
    yield S3UsageEvidence(
        request.getfixturevalue("aws_clients").client("s3"), bucket, parallel_reads=4, clock=lambda: NOW
    )


def batch(customer_id: str, at: int, count: int, price_id: str = "price_1") -> EvidenceBatch:
    calls = tuple(
        BilledCall(
            MeteredCall("key-1", at * 1000 - n, 200, str(uuid.uuid4()), "POST", "/prod/a,b"), "standard", price_id
        )
        for n in range(count)
    )
    return EvidenceBatch(customer_id, f"tollgate-{uuid.uuid4().hex}", calls)


def rows_of(evidence: UsageEvidence, customer_id: str, start: int, end: int) -> list[dict[str, str]]:
    file = evidence.period_file(customer_id, start, end)
    text = b"".join(evidence.read(file)).decode()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert file.rows == len(rows)
    return rows


def test_a_batch_saved_twice_is_one_object(evidence):
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    saved = batch(customer, START + 10, 3)

    evidence.save(saved)
    evidence.save(saved)

    assert len(rows_of(evidence, customer, START, START + 60)) == 3


def test_a_period_holds_its_own_batches_from_start_up_to_end_and_no_other_customers(evidence):
    ada, bob = f"cus_{uuid.uuid4().hex[:8]}", f"cus_{uuid.uuid4().hex[:8]}"
    for at, count in ((START - 1, 1), (START, 2), (START + 3599, 4), (START + 3600, 8)):
        evidence.save(batch(ada, at, count))
    evidence.save(batch(bob, START + 5, 16))

    rows = rows_of(evidence, ada, START, START + 3600)

    assert len(rows) == 6
    # The batch billed at START (its latest call's second) starts with a call made a millisecond before
    # it: Stripe bills the whole meter event in the period of its timestamp, and so does the file.
    assert rows[0]["time"] == "2027-01-15T07:59:59.999Z"
    assert rows[0]["path"] == "/prod/a,b" and rows[0]["method"] == "POST"  # quoted, not split
    assert len(rows_of(evidence, bob, START, START + 3600)) == 16


def test_an_empty_period_is_a_header_alone(evidence):
    assert rows_of(evidence, f"cus_{uuid.uuid4().hex[:8]}", START, START + 60) == []


def test_the_download_url_is_signed_and_lasts_minutes(evidence):
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    evidence.save(batch(customer, START, 1))
    file = evidence.period_file(customer, START, START + 60)

    url = urlparse(evidence.download_url(file))

    assert file.location in url.path
    assert parse_qs(url.query)["X-Amz-Expires"] == [str(contract.USAGE_EVIDENCE_URL_SECONDS)]


def save_days(evidence: UsageEvidence, customer: str, days: list[int]) -> list[str]:
    """Three batches of two calls a day on each of `days` (days after START); their request ids."""
    saved = [batch(customer, START + day * DAY + hour * 3600, 2) for day in days for hour in (1, 7, 13)]
    for one in saved:
        evidence.save(one)
    return [billed.call.request_id for one in saved for billed in sorted(one.calls, key=lambda b: b.call.at_ms)]


def test_compacting_closed_days_leaves_every_period_file_as_it_was(evidence):
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    saved = save_days(evidence, customer, [*range(10), 20])  # ten closed days, and today (NOW's)

    assert evidence.compact(customer, NOW) == 10
    assert evidence.compact(customer, NOW) == 0  # made once

    assert [row["request_id"] for row in rows_of(evidence, customer, START, NOW + DAY)] == saved
    first_midnight = (START + DAY - 1) // DAY * DAY  # a period from midnight: whole days of files
    assert len(rows_of(evidence, customer, first_midnight, first_midnight + 2 * DAY)) == 12
    assert len(rows_of(evidence, customer, START + 3 * DAY + 4 * 3600, START + 5 * DAY)) == 2 * 2 + 3 * 2  # part, whole


def test_a_batch_arriving_late_into_a_compacted_day_is_in_the_period_file_once(evidence):
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    save_days(evidence, customer, [1, 2])
    evidence.compact(customer, NOW)
    late = batch(customer, START + DAY + 5 * 3600, 3)  # a redriven ledger object, days later

    evidence.save(late)
    evidence.save(late)  # and redelivered

    rows = rows_of(evidence, customer, START, NOW)
    assert len(rows) == 6 * 2 + 3
    assert len({row["request_id"] for row in rows}) == 15
    assert rows_of(evidence, customer, START, NOW) == rows  # the day's file remade once, the same
