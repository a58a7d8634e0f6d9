"""`make bench`'s usage-reporter figure: records per second through the reporter's own handler
(an SQS event announcing one 10,000-record ledger object) when every Stripe call takes L ms and the
other services answer at once, and how many Stripe calls those 10,000 records cost; then the same
with each evidence write (S3) taking EVIDENCE_WRITE_LATENCY_MS, which the first figure cannot see. Each
figure is given for the first object of a process and for the next one."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from testkit.fake_metering import call_record, ledger_bytes
from testkit.metering_on_fakes import MeteringOnFakes
from tollgate.domain.metering import PARALLEL_STRIPE_CALLS

RECORDS = 10_000
CUSTOMERS = 50
# A small S3 PUT's median latency is "in the tens of milliseconds"
# (https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html).
EVIDENCE_WRITE_LATENCY_MS = 30.0


@dataclass(frozen=True)
class ReporterFigures:
    records_per_second: float  # the first object of a process: its handler's cold start, its prices read
    # from Stripe (once per process) and its customers' closed days compacted (once a day)
    next_records_per_second: float  # the next object, as a warm process reports it
    stripe_calls: int  # per object


def reporter_throughput(
    stripe_latency_s: float, records: int = RECORDS, customers: int = CUSTOMERS, evidence_latency_s: float = 0.0
) -> ReporterFigures:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # the figure, not the EMF blobs, goes to stdout
    fakes = MeteringOnFakes.create(stripe_latency=stripe_latency_s)
    fakes.evidence.latency = evidence_latency_s
    for number in range(customers):
        fakes.add_customer(f"key-{number}", f"cus_{number}")
    per_second = []
    for _ in range(2):
        source = fakes.ledger.put(ledger_bytes([call_record(f"key-{index % customers}") for index in range(records)]))
        reported, started = fakes.meter.units(), time.perf_counter()
        answer = fakes.deliver(source)
        per_second.append(records / (time.perf_counter() - started))
        if answer["batchItemFailures"] or fakes.meter.units() - reported != records:
            raise RuntimeError(f"the reporter did not report the batch: {answer}, {fakes.meter.units()} units")
    first, following = per_second
    return ReporterFigures(first, following, fakes.meter.call_count("report") // 2)


def reporter_line(latency_ms: float) -> str:
    figures = reporter_throughput(latency_ms / 1000)
    with_s3 = reporter_throughput(latency_ms / 1000, evidence_latency_s=EVIDENCE_WRITE_LATENCY_MS / 1000)
    return (
        f"usage reporter                    {figures.records_per_second:,.0f} records/s, the next object "
        f"{figures.next_records_per_second:,.0f} ({RECORDS:,} records of {CUSTOMERS} customers, Stripe "
        f"+{latency_ms:g} ms per call, {PARALLEL_STRIPE_CALLS} at a time); {figures.stripe_calls} Stripe calls "
        f"per {RECORDS:,} records; {with_s3.records_per_second:,.0f} / {with_s3.next_records_per_second:,.0f} "
        f"records/s when each evidence write takes {EVIDENCE_WRITE_LATENCY_MS:g} ms"
    )
