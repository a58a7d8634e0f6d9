"""`make bench`'s evidence figure: how long the account page's download of a period of 1,000,000 billed
calls takes to make (S3UsageEvidence.period_file: list the customer's objects, read them, write one
file) and to read back, on moto's S3 in this process.

The objects are as many as the reporter can write for one customer in a month: one per ledger object
(Firehose writes one a minute at most, `LEDGER_BUFFERING_INTERVAL`), so 43,200 objects of about 23
calls: the worst case for reading, as every object costs one GET however small. Each GET can be
given S3's first-byte latency (`s3_latency_ms`; moto answers in well under a millisecond), which
PARALLEL_READS overlap: on AWS the figure is about objects / PARALLEL_READS x that latency plus the
bytes. Only one customer's objects are in the bucket: the listing reads that customer's prefix only,
so other customers' traffic changes nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tollgate.adapters.s3_usage_evidence import PARALLEL_READS, S3UsageEvidence, batch_key
from tollgate.domain.evidence import BilledCall, EvidenceBatch
from tollgate.domain.usage import MeteredCall

CALLS = 1_000_000
OBJECTS = 43_200  # a month of one ledger object a minute
S3_LATENCY_MS = 20.0
_BUCKET = "tollgate-bench-evidence"
_CUSTOMER = "cus_bench"
_START = 1_800_000_000


@dataclass(frozen=True)
class EvidenceFigures:
    calls: int
    objects: int
    make_seconds: float
    read_seconds: float
    megabytes: float


class _LatentS3:
    """The client, with S3's first-byte latency added to every GET (the only call made per object)."""

    def __init__(self, client: Any, latency_s: float):
        self._client, self._latency_s = client, latency_s

    def get_object(self, **parameters: Any) -> Any:
        time.sleep(self._latency_s)
        return self._client.get_object(**parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def evidence_download(calls: int = CALLS, objects: int = OBJECTS, s3_latency_ms: float = S3_LATENCY_MS) -> EvidenceFigures:
    import boto3
    from moto import mock_aws

    per_object = calls // objects
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=_BUCKET)
        spacing = 2_592_000 // objects  # the objects spread over 30 days
        for number in range(objects):
            count = per_object + (1 if number < calls % objects else 0)
            at_ms = (_START + number * spacing) * 1000
            batch = EvidenceBatch(_CUSTOMER, f"tollgate-{number:064x}", tuple(
                BilledCall(MeteredCall("key-bench", at_ms - n, 200, f"{number:08x}-{n:04x}-4000-8000-000000000000", "GET",
                                       "/prod/v1/things/42"), "standard", "price_bench") for n in range(count)))
            client.put_object(Bucket=_BUCKET, Key=batch_key(batch), Body=batch.csv_rows())
        evidence = S3UsageEvidence(_LatentS3(client, s3_latency_ms / 1000), _BUCKET)
        started = time.perf_counter()
        file = evidence.period_file(_CUSTOMER, _START, _START + 2_592_000)
        evidence.download_url(file)
        made = time.perf_counter()
        size = sum(len(chunk) for chunk in evidence.read(file))
        read = time.perf_counter()
    if file.rows != calls:
        raise RuntimeError(f"the period's file lists {file.rows} calls, not {calls}")
    return EvidenceFigures(calls, file.objects, made - started, read - made, size / 1e6)


def evidence_line(s3_latency_ms: float = S3_LATENCY_MS) -> str:
    figures = evidence_download(s3_latency_ms=s3_latency_ms)
    return (f"evidence download                 {figures.make_seconds + figures.read_seconds:.1f} s for a period of "
            f"{figures.calls:,} calls ({figures.megabytes:.0f} MB CSV from {figures.objects:,} objects: made in "
            f"{figures.make_seconds:.1f} s with {PARALLEL_READS} reads at a time at S3 +{s3_latency_ms:g} ms each, "
            f"read back in {figures.read_seconds:.1f} s; moto's S3 in this process)")
