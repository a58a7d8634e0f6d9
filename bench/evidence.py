"""`make bench`'s evidence figure: how long the account page's download of a period of 1,000,000 billed
calls takes to make (S3UsageEvidence.period_file: list the customer's objects and day files, read
them, write one file) and to read back, on moto's S3 in this process, and how many S3 requests it
makes (what the figure on AWS is estimated from).

The objects are as many as the reporter can write for one customer in a month: one per ledger object
(Firehose writes one a minute at most, `LEDGER_BUFFERING_INTERVAL`), so 43,200 objects of about 23
calls: the worst case for reading, as every object costs one GET however small. As the reporter
does, each closed UTC day is compacted into one file on the customer's first object of the next
day (`UsageEvidence.compact`, timed apart: the reporter's cost, once a day); the download comes at
the period's last minute, so it reads the day files, the objects of the partial first day and of
today. Each request can be given S3's first-byte latency (`s3_latency_ms`; moto answers in well
under a millisecond), which PARALLEL_READS overlap. Only one customer's objects are in the bucket:
the listing reads that customer's prefixes only, so other customers' traffic changes nothing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tollgate.adapters.s3_usage_evidence import DAY, PARALLEL_READS, S3UsageEvidence, batch_key
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
    compact_seconds: float  # every day's compaction, summed (the reporter's, once a day each)
    days_compacted: int
    requests: dict[str, int] = field(default_factory=dict)  # the download's S3 requests, by operation
    request_seconds: dict[str, float] = field(default_factory=dict)  # their time, summed over the threads


class _S3Requests:
    """Counts and times the client's requests by operation (and sleeps S3's first-byte latency on each),
    through botocore's before- and after-call events, so paginated listings are counted too."""

    def __init__(self, client: Any, latency_s: float):
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self._latency_s = latency_s
        self._started = threading.local()
        client.meta.events.register("before-call.s3", self._before_call)
        client.meta.events.register("after-call.s3", self._after_call)

    def clear(self) -> None:
        self.counts.clear()
        self.seconds.clear()

    def _before_call(self, model: Any, **_: Any) -> None:
        self._started.at = time.perf_counter()
        self.counts[model.name] += 1
        if self._latency_s:
            time.sleep(self._latency_s)

    def _after_call(self, model: Any, **_: Any) -> None:
        self.seconds[model.name] += time.perf_counter() - self._started.at


def evidence_download(
    calls: int = CALLS, objects: int = OBJECTS, s3_latency_ms: float = S3_LATENCY_MS
) -> EvidenceFigures:
    import boto3
    from moto import mock_aws

    per_object = calls // objects
    end = _START + 30 * DAY
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=_BUCKET)
        spacing = (end - _START) // objects  # the objects spread over the 30 days
        for number in range(objects):
            count = per_object + (1 if number < calls % objects else 0)
            at_ms = (_START + number * spacing) * 1000
            batch = EvidenceBatch(
                _CUSTOMER,
                f"tollgate-{number:064x}",
                tuple(
                    BilledCall(
                        MeteredCall(
                            "key-bench",
                            at_ms - n,
                            200,
                            f"{number:08x}-{n:04x}-4000-8000-000000000000",
                            "GET",
                            "/prod/v1/things/42",
                        ),
                        "standard",
                        "price_bench",
                    )
                    for n in range(count)
                ),
            )
            client.put_object(Bucket=_BUCKET, Key=batch_key(batch), Body=batch.csv_rows())
        now = end - 60
        evidence = S3UsageEvidence(client, _BUCKET, clock=lambda: now)
        requests = _S3Requests(client, s3_latency_ms / 1000)
        started = time.perf_counter()
        days = sum(
            evidence.compact(_CUSTOMER, midnight + 60) for midnight in range((_START + DAY - 1) // DAY * DAY, end, DAY)
        )
        compacted = time.perf_counter()
        requests.clear()
        file = evidence.period_file(_CUSTOMER, _START, end)
        evidence.download_url(file)
        made = time.perf_counter()
        size = sum(len(chunk) for chunk in evidence.read(file))
        read = time.perf_counter()
    if file.rows != calls:
        raise RuntimeError(f"the period's file lists {file.rows} calls, not {calls}")
    return EvidenceFigures(
        calls,
        file.objects,
        made - compacted,
        read - made,
        size / 1e6,
        compacted - started,
        days,
        dict(requests.counts),
        dict(requests.seconds),
    )


def evidence_line(s3_latency_ms: float = S3_LATENCY_MS) -> str:
    figures = evidence_download(s3_latency_ms=s3_latency_ms)
    requests = ", ".join(
        f"{count:,} {operation} ({figures.request_seconds[operation]:.1f} s summed)"
        for operation, count in sorted(figures.requests.items())
    )
    return (
        f"evidence download                 {figures.make_seconds + figures.read_seconds:.1f} s for a period of "
        f"{figures.calls:,} calls ({figures.megabytes:.0f} MB CSV from {figures.objects:,} objects, "
        f"{figures.days_compacted} of their days compacted beforehand in {figures.compact_seconds:.1f} s: made in "
        f"{figures.make_seconds:.1f} s by {requests}, {PARALLEL_READS} reads at a time at S3 "
        f"+{s3_latency_ms:g} ms each, read back in {figures.read_seconds:.1f} s; moto's S3 in this process)"
    )
