"""The UsageLedger port (tollgate.domain.ports.metering): FakeUsageLedger and S3UsageLedger on moto answer alike.

What the usage reporter and `make usage-report` rely on: an object reads back as stored, a period's
listing holds every object of the hour folders around it (a record waits in Firehose's buffer, and
lands in the folder of its object's oldest record) and none further away, and reading an object that
is not there is a refusal, not something to retry."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from testkit.fake_metering import FakeUsageLedger, ledger_key
from tollgate.adapters.s3_usage_ledger import S3UsageLedger
from tollgate.domain.errors import DownstreamError
from tollgate.domain.ports.metering import UsageLedger
from tollgate.domain.usage import LedgerObject

HOUR = 3600
MIDDLE_OF_AN_HOUR = 1_800_000_000 - 1_800_000_000 % HOUR + HOUR // 2


@dataclass
class Ledger:
    """The port, and how Firehose writes an object into it (at a time, in its hour's folder)."""

    port: UsageLedger
    put: Callable[[bytes, float], LedgerObject]
    bucket: str


@pytest.fixture(scope="module", params=["fake", "s3"])
def ledger(request) -> Iterator[Ledger]:
    if request.param == "fake":
        fake = FakeUsageLedger()
        yield Ledger(fake, fake.put, "tollgate-test-ledger")
        return
    bucket = request.getfixturevalue("aws").usage.ledger_bucket
    s3 = request.getfixturevalue("aws_clients").client("s3")

    def put(data: bytes, at: float) -> LedgerObject:
        source = LedgerObject(bucket, ledger_key(at))
        s3.put_object(Bucket=bucket, Key=source.key, Body=data)
        return source

    yield Ledger(S3UsageLedger(s3, bucket), put, bucket)


def test_an_object_reads_back_as_stored(ledger):
    data = gzip.compress(f'{{"requestId": "{uuid.uuid4()}"}}\n'.encode())

    assert ledger.port.read(ledger.put(data, MIDDLE_OF_AN_HOUR)) == data


def test_a_period_lists_the_objects_of_its_hours_and_of_the_hour_on_either_side_only(ledger):
    at = {offset: ledger.put(b"{}", MIDDLE_OF_AN_HOUR + offset * HOUR) for offset in (-3, -1, 0, 1, 2)}

    listed = set(ledger.port.objects_between(MIDDLE_OF_AN_HOUR - 60, MIDDLE_OF_AN_HOUR))

    assert {at[-1], at[0], at[1]} <= listed
    assert not {at[-3], at[2]} & listed


def test_reading_an_object_that_is_not_there_is_a_refusal_not_a_retry(ledger):
    with pytest.raises(DownstreamError) as refused:
        ledger.port.read(LedgerObject(ledger.bucket, ledger_key(MIDDLE_OF_AN_HOUR)))

    assert refused.value.retryable is False
