"""`make bench`'s usage-reporter figure: records per second through the reporter's own handler
(an SQS event announcing one 10,000-record ledger object) when every Stripe call takes L ms and the
other services answer at once, and how many Stripe calls those 10,000 records cost."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from testkit.fake_metering import MeteringOnFakes, call_record, ledger_bytes
from tollgate.domain.metering import PARALLEL_STRIPE_CALLS

RECORDS = 10_000
CUSTOMERS = 50


@dataclass(frozen=True)
class ReporterFigures:
    records_per_second: float
    stripe_calls: int


def reporter_throughput(stripe_latency_s: float, records: int = RECORDS, customers: int = CUSTOMERS) -> ReporterFigures:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # the figure, not the EMF blobs, goes to stdout
    fakes = MeteringOnFakes.create(stripe_latency=stripe_latency_s)
    for number in range(customers):
        fakes.add_customer(f"key-{number}", f"cus_{number}")
    source = fakes.ledger.put(ledger_bytes([call_record(f"key-{index % customers}") for index in range(records)]))
    started = time.perf_counter()
    answer = fakes.deliver(source)
    elapsed = time.perf_counter() - started
    if answer["batchItemFailures"] or fakes.meter.units() != records:
        raise RuntimeError(f"the reporter did not report the batch: {answer}, {fakes.meter.units()} units")
    return ReporterFigures(records / elapsed, fakes.meter.call_count("report"))


def reporter_line(latency_ms: float) -> str:
    figures = reporter_throughput(latency_ms / 1000)
    return (f"usage reporter                    {figures.records_per_second:,.0f} records/s ({RECORDS:,} records of "
            f"{CUSTOMERS} customers, Stripe +{latency_ms:g} ms per call, {PARALLEL_STRIPE_CALLS} at a time); "
            f"{figures.stripe_calls} Stripe calls per {RECORDS:,} records")
