"""The UsageEvidence port (tollgate.domain.ports.metering): FakeUsageEvidence and S3UsageEvidence on moto answer alike.

What the usage reporter, the account page and `make evidence` rely on: a batch saved twice is one
object; a period's file is a header and the rows of the customer's batches billed in [start, end),
oldest first, and nobody else's; the download URL is signed and short-lived."""

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


@pytest.fixture(scope="module", params=["fake", "s3"])
def evidence(request) -> Iterator[UsageEvidence]:
    if request.param == "fake":
        yield FakeUsageEvidence()
        return
    bucket = request.getfixturevalue("aws").usage.ledger_bucket
    yield S3UsageEvidence(request.getfixturevalue("aws_clients").client("s3"), bucket, parallel_reads=4)


def batch(customer_id: str, at: int, count: int, price_id: str = "price_1") -> EvidenceBatch:
    calls = tuple(BilledCall(MeteredCall("key-1", at * 1000 - n, 200, str(uuid.uuid4()), "POST", "/prod/a,b"),
                             "standard", price_id) for n in range(count))
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
