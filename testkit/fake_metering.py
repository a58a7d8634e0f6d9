"""Usage metering on fakes: the ledger, the Stripe meter, the usage reports table, the evidence and
the queues in memory (failing on demand, testkit.faults), ledger objects written in the stage's own access-log
format (infra/access_log.py), and the SQS events that announce them."""

from __future__ import annotations

import calendar
import gzip
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from infra import access_log
from testkit.fake_ports import TEST_PLANS
from testkit.faults import FaultyFake
from tollgate import contract
from tollgate.domain.errors import DownstreamError
from tollgate.domain.evidence import EvidenceBatch, PeriodFile, UnitPrice, csv_header
from tollgate.domain.ports.metering import UsageEvidence, UsageLedger, UsageMeter, UsageReports
from tollgate.domain.usage import (
    STRIPE_DEDUP_WINDOW_SECONDS,
    BatchSummary,
    LedgerObject,
    MeterReport,
    ReportRecord,
    ReportState,
)

LEDGER_BUCKET = "tollgate-test-ledger"
UNIT_AMOUNT = "0.1"  # FakeUsageMeter's unit_amount_decimal of a price (make stripe-setup's default)
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:tollgate-test-usage"


# --- ledger objects ---------------------------------------------------------------------------


def call_record(
    api_key_id: str | None,
    *,
    status: int = 200,
    resource: str = contract.ROUTE_METERED_PROXY,
    at_ms: int | None = None,
    error_type: str | None = None,
    integration_ms: int | None = 12,
    account_id: str | None = None,
) -> str:
    """One access-log line as the stage writes it (a gateway answer: error_type set, no integration);
    `account_id` is the authorizer's principalId (None: a record from before the authorizer)."""
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    return access_log.render(
        {
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": at_ms,
            "httpMethod": "GET",
            "resourcePath": resource,
            "path": "/prod/hello",
            "status": status,
            "identity.apiKeyId": api_key_id,
            "error.responseType": error_type,
            "integrationLatency": None if error_type else integration_ms,
            "identity.sourceIp": "203.0.113.7",
            "authorizer.principalId": account_id,
        }
    )


def ledger_bytes(lines: list[str], delimiter: str = "\n") -> bytes:
    """A ledger object as Firehose's S3 backup writes it: the records back to back, GZIP."""
    return gzip.compress(delimiter.join(lines).encode())


def ledger_key(at: float | None = None) -> str:
    """A key in the ledger's layout: ledger/YYYY/MM/DD/HH/<stream>-1-<time>-<uuid>.gz."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return (
        contract.USAGE_LEDGER_PREFIX
        + moment.strftime(contract.USAGE_LEDGER_HOUR_FORMAT)
        + f"amazon-apigateway-tollgate-test-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"
    )


def s3_notification(*sources: LedgerObject) -> str:
    """The body S3 sends to the queue for new objects (keys URL-encoded, as S3 does)."""
    from urllib.parse import quote_plus

    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": source.bucket, "arn": f"arn:aws:s3:::{source.bucket}"},
                        "object": {"key": quote_plus(source.key)},
                    },
                }
                for source in sources
            ]
        }
    )


def sqs_event(*bodies: str, receive_count: int = 1, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """The event Lambda's SQS event source hands the reporter."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"receipt-{uuid.uuid4()}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "SenderId": "s3",
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


# --- the ports ----------------------------------------------------------------------------------


class FakeUsageLedger(FaultyFake, UsageLedger):
    port = "s3"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.objects: dict[LedgerObject, bytes] = {}

    def put(self, data: bytes, at: float | None = None) -> LedgerObject:
        source = LedgerObject(LEDGER_BUCKET, ledger_key(at))
        self.objects[source] = data
        return source

    def read(self, source: LedgerObject) -> bytes:
        """An object that is not there is S3's NoSuchKey, a 404: a refusal, not a retry
        (https://docs.aws.amazon.com/sdk-for-python/v4/reference/clients/s3/errors/NoSuchKey/)."""
        with self._call("read", source):
            if source not in self.objects:
                raise DownstreamError(self.port, f"read {source} failed (NoSuchKey)", retryable=False)
            return self.objects[source]

    def objects_between(self, start: int, end: int) -> list[LedgerObject]:
        from tollgate.adapters.s3_usage_ledger import hour_folders

        folders = tuple(hour_folders(start - 3600, end + 3600))
        with self._call("objects_between", start, end):
            return [source for source in self.objects if source.key.startswith(folders)]


class FakeUsageMeter(FaultyFake, UsageMeter):
    """Stripe's meters, one per price: refuses an identifier it saw within 24 h (answered False, as the
    adapter does); a report naming no price goes to `default_price_id`'s meter (the default plan's)."""

    port = "stripe"

    def __init__(
        self,
        clock: Any = time.time,
        default_price_id: str | None = None,
        unit_amounts: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.clock = clock
        self.unit_amounts = unit_amounts or {}  # price -> unit_amount_decimal; UNIT_AMOUNT for the others
        self.default_price_id: str = default_price_id or TEST_PLANS.default.price_id or ""
        self.events: list[MeterReport] = []
        self._seen: dict[str, float] = {}
        self._prices_read: set[str] = set()

    def report(self, report: MeterReport) -> bool:
        with self._call("report", report.identifier), self._lock:
            seen = self._seen.get(report.identifier)
            if seen is not None and self.clock() - seen < STRIPE_DEDUP_WINDOW_SECONDS:
                return False
            self._seen[report.identifier] = self.clock()
            self.events.append(report)
            return True

    def unit_price(self, price_id: str) -> UnitPrice:
        """Stripe is asked once per price, as the adapter keeps what it read for the process (StripeUsageMeter.spec):
        later calls cost no round trip (a failure set on them still fails)."""
        price_id = price_id or self.default_price_id
        with self._call("unit_price", price_id, latency=0.0 if price_id in self._prices_read else None):
            self._prices_read.add(price_id)
            return UnitPrice(self.unit_amounts.get(price_id, UNIT_AMOUNT), "usd")

    def reported_units(self, customer_id: str, price_id: str, start: int, end: int) -> float:
        with self._call("reported_units", customer_id):
            return sum(
                event.value
                for event in self.events
                if event.customer_id == customer_id
                and (event.price_id or self.default_price_id) == (price_id or self.default_price_id)
                and start <= event.timestamp < end
            )

    def units(self, customer_id: str | None = None) -> int:
        return sum(event.value for event in self.events if customer_id in (None, event.customer_id))

    def units_by_price(self) -> dict[str, int]:
        """Units reported to the meters, per price."""
        units: dict[str, int] = {}
        for event in self.events:
            units[event.price_id] = units.get(event.price_id, 0) + event.value
        return units


class FakeUsageReports(FaultyFake, UsageReports):
    port = "dynamodb"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.records: dict[str, ReportRecord] = {}
        self.summaries: dict[LedgerObject, BatchSummary] = {}

    def get(self, identifier: str) -> ReportRecord | None:
        with self._call("get", identifier), self._lock:
            return self.records.get(identifier)

    def mark_pending(self, report: MeterReport, now: int) -> ReportRecord:
        with self._call("mark_pending", report.identifier), self._lock:
            existing = self.records.get(report.identifier)
            if existing is not None and existing.state is ReportState.REPORTED:
                return existing
            record = ReportRecord(report, ReportState.PENDING, existing.first_attempt_at if existing else now)
            self.records[report.identifier] = record
            return record

    def mark_reported(self, report: MeterReport, now: int) -> None:
        with self._call("mark_reported", report.identifier), self._lock:
            self.records[report.identifier] = replace(self.records[report.identifier], state=ReportState.REPORTED)

    def pending_since_before(self, cutoff: int) -> list[ReportRecord]:
        with self._call("pending_since_before", cutoff), self._lock:
            return sorted(
                (
                    record
                    for record in self.records.values()
                    if record.state is ReportState.PENDING and record.first_attempt_at < cutoff
                ),
                key=lambda record: record.first_attempt_at,
            )

    def billable_calls(self, customer_id: str, start: int, end: int) -> int:
        with self._call("billable_calls", customer_id), self._lock:
            return sum(
                record.report.value
                for record in self.records.values()
                if record.report.customer_id == customer_id and start <= record.report.timestamp < end
            )

    def save_summary(self, summary: BatchSummary) -> None:
        with self._call("save_summary", summary.source), self._lock:
            self.summaries[summary.source] = summary

    def summary(self, source: LedgerObject) -> BatchSummary | None:
        with self._call("summary", source), self._lock:
            return self.summaries.get(source)

    def latest_summary(self) -> BatchSummary | None:
        with self._call("latest_summary"), self._lock:
            return max(self.summaries.values(), key=lambda summary: summary.reported_at, default=None)

    def latest_billed_summary(self) -> BatchSummary | None:
        with self._call("latest_billed_summary"), self._lock:
            return max(
                (summary for summary in self.summaries.values() if summary.billed),
                key=lambda summary: summary.reported_at,
                default=None,
            )


class FakeUsageEvidence(FaultyFake, UsageEvidence):
    """The evidence objects by the adapter's own names (so a period is the same range of names)."""

    port = "s3"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.objects: dict[str, bytes] = {}
        self.files: dict[str, bytes] = {}
        self.saves = 0
        self.compacted: set[tuple[str, int]] = set()  # (customer, UTC day) made

    def save(self, batch: EvidenceBatch) -> None:
        from tollgate.adapters.s3_usage_evidence import batch_key

        with self._call("save", batch.identifier), self._lock:
            self.objects[batch_key(batch)] = batch.csv_rows()
            self.saves += 1

    def compact(self, customer_id: str, now: int) -> int:
        """Records the closed days with objects not recorded yet (a period's file reads the objects)."""
        from tollgate.adapters.s3_usage_evidence import DAY, customer_prefix, object_time

        prefix, today = customer_prefix(customer_id), now // DAY * DAY
        with self._call("compact", customer_id), self._lock:
            # Names only: a day is the range of names its objects sort in (one pass, as a listing is).
            first, end = prefix + object_time(today - 31 * DAY), prefix + object_time(today)
            days = {
                calendar.timegm(time.strptime(key[len(prefix) : len(prefix) + 8], "%Y%m%d"))
                for key in self.objects
                if first <= key < end
            }
            made = {(customer_id, day) for day in days} - self.compacted
            self.compacted |= made
            return len(made)

    def period_file(self, customer_id: str, start: int, end: int) -> PeriodFile:
        from tollgate.adapters.s3_usage_evidence import customer_prefix, object_time, period_key

        prefix = customer_prefix(customer_id)
        with self._call("period_file", customer_id), self._lock:
            keys = sorted(key for key in self.objects if prefix + object_time(start) <= key < prefix + object_time(end))
            body = csv_header() + b"".join(self.objects[key] for key in keys)
            location = period_key(customer_id, start, end)
            self.files[location] = body
            return PeriodFile(customer_id, start, end, location, body.count(b"\n") - 1, len(keys))

    def download_url(self, file: PeriodFile) -> str:
        return f"https://{LEDGER_BUCKET}.s3.amazonaws.com/{file.location}?X-Amz-Expires={contract.USAGE_EVIDENCE_URL_SECONDS}"

    def read(self, file: PeriodFile) -> Any:
        with self._call("read", file.location):
            yield self.files[file.location]

    def rows(self, customer_id: str | None = None) -> list[list[str]]:
        """Every row saved (of one customer's objects, when given), as the CSV reader reads them."""
        import csv
        import io

        from tollgate.adapters.s3_usage_evidence import customer_prefix

        prefix = customer_prefix(customer_id) if customer_id else contract.USAGE_EVIDENCE_PREFIX
        return [
            row
            for key, body in sorted(self.objects.items())
            if key.startswith(prefix)
            for row in csv.reader(io.StringIO(body.decode()))
        ]


@dataclass
class FakeUsageQueues:
    """The reporter's view of SQS: which messages it asked to see again later, and when."""

    delays: list[tuple[str, str, int]] = field(default_factory=list)  # (queue ARN, receipt handle, seconds)

    def retry_later(self, queue_arn: str, receipt_handle: str, delay_seconds: int) -> None:
        self.delays.append((queue_arn, receipt_handle, delay_seconds))


# --- the reporter deployed on fakes ---------------------------------------------------------------
