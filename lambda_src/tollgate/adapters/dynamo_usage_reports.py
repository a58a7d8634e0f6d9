"""UsageReports on DynamoDB: the usage reports table (key contract.USAGE_REPORTS_PARTITION_KEY).

Two kinds of item, both forgotten after tollgate.domain.metering.REPORT_RETENTION_SECONDS (TTL):
- a report, keyed by its meter event identifier: customer, value, timestamp and source object (all
  an operator needs to send it again), its state, and the time of its first attempt. While it is
  pending it also carries contract.USAGE_REPORTS_ATTR_PENDING, so the sparse index of that name
  lists exactly the pending reports, oldest attempt first;
- a summary per ledger object (`object#s3://bucket/key`): records, malformed records, billable
  calls, calls billed, customers, and the calls of unknown keys; a copy of the newest one
  (LATEST_SUMMARY_KEY), which `make status` shows as the last report, and of the newest one that
  billed a call (LATEST_BILLED_SUMMARY_KEY), which it shows as the last billed.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tollgate import contract
from tollgate.adapters.aws_clients import CONDITION_FAILED, answer, call_aws
from tollgate.domain.errors import DownstreamError
from tollgate.domain.metering import REPORT_RETENTION_SECONDS
from tollgate.domain.ports.metering import UsageReports
from tollgate.domain.usage import BatchSummary, LedgerObject, MeterReport, ReportRecord, ReportState

_SERVICE = "DynamoDB"
_ID = contract.USAGE_REPORTS_PARTITION_KEY
_SUMMARY_KEY_PREFIX = "object#"
LATEST_SUMMARY_KEY = "latest#summary"
LATEST_BILLED_SUMMARY_KEY = "latest#billed"
_NAMES = {
    "#id": _ID,
    "#status": "status",
    "#pending": contract.USAGE_REPORTS_ATTR_PENDING,
    "#first": contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT,
    "#value": "value",
    "#timestamp": "timestamp",
    "#expires": contract.USAGE_REPORTS_TTL_ATTRIBUTE,
}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoUsageReports(UsageReports):
    """The usage reports table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def get(self, identifier: str) -> ReportRecord | None:
        item = call_aws(
            _SERVICE,
            "read usage report",
            self._client.get_item,
            TableName=self._table,
            Key={_ID: {"S": identifier}},
            ConsistentRead=True,
        ).get("Item")
        return _record(item) if item else None

    def mark_pending(self, report: MeterReport, now: int) -> ReportRecord:
        values = _values(
            {
                ":pending": ReportState.PENDING.value,
                ":customer": report.customer_id,
                ":value": report.value,
                ":timestamp": report.timestamp,
                ":bucket": report.source.bucket,
                ":key": report.source.key,
                ":price": report.price_id,
                ":now": now,
                ":expires": now + REPORT_RETENTION_SECONDS,
            }
        )
        written = call_aws(
            _SERVICE,
            "record pending usage report",
            self._client.update_item,
            expected={CONDITION_FAILED: answer(None)},  # reported meanwhile
            TableName=self._table,
            Key={_ID: {"S": report.identifier}},
            UpdateExpression="SET #status = :pending, #pending = :pending, customerId = :customer, "
            "#value = :value, #timestamp = :timestamp, sourceBucket = :bucket, sourceKey = :key, "
            "priceId = :price, "
            "#first = if_not_exists(#first, :now), #expires = if_not_exists(#expires, :expires)",
            ConditionExpression="attribute_not_exists(#id) OR #status = :pending",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        if written is not None:
            return _record(written["Attributes"])
        reported = self.get(report.identifier)  # the condition failed: the report is there, reported
        if reported is None:  # removed by its TTL meanwhile: older than Stripe's 35 days, so never sendable again
            raise DownstreamError(
                _SERVICE, f"usage report {report.identifier} expired while being recorded", retryable=False
            )
        return reported

    def mark_reported(self, report: MeterReport, now: int) -> None:
        call_aws(
            _SERVICE,
            "record usage report",
            self._client.update_item,
            TableName=self._table,
            Key={_ID: {"S": report.identifier}},
            UpdateExpression="SET #status = :reported, reportedAt = :now REMOVE #pending",
            ExpressionAttributeNames={"#status": "status", "#pending": contract.USAGE_REPORTS_ATTR_PENDING},
            ExpressionAttributeValues=_values({":reported": ReportState.REPORTED.value, ":now": now}),
        )

    def pending_since_before(self, cutoff: int) -> list[ReportRecord]:
        records: list[ReportRecord] = []
        start: dict[str, Any] = {}
        while True:
            page = call_aws(
                _SERVICE,
                "list pending usage reports",
                self._client.query,
                TableName=self._table,
                IndexName=contract.USAGE_REPORTS_INDEX_PENDING,
                KeyConditionExpression="#pending = :pending AND #first < :cutoff",
                ExpressionAttributeNames={
                    "#pending": contract.USAGE_REPORTS_ATTR_PENDING,
                    "#first": contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT,
                },
                ExpressionAttributeValues=_values(
                    {":pending": contract.USAGE_REPORTS_PENDING_VALUE, ":cutoff": cutoff}
                ),
                **start,
            )
            records += [_record(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return records
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def billable_calls(self, customer_id: str, start: int, end: int) -> int:
        """A query of the `byCustomer` index (customer, time of the latest call), values only: one item
        per ledger object the customer had calls in, at most about 1,440 a day."""
        total = 0
        position: dict[str, Any] = {}
        while True:
            page = call_aws(
                _SERVICE,
                "read the customer's usage",
                self._client.query,
                TableName=self._table,
                IndexName=contract.USAGE_REPORTS_INDEX_BY_CUSTOMER,
                KeyConditionExpression="#customer = :customer AND #timestamp BETWEEN :start AND :last",
                ProjectionExpression="#value",
                ExpressionAttributeNames={
                    "#customer": contract.USAGE_REPORTS_ATTR_CUSTOMER_ID,
                    "#timestamp": contract.USAGE_REPORTS_ATTR_TIMESTAMP,
                    "#value": "value",
                },
                ExpressionAttributeValues=_values({":customer": customer_id, ":start": start, ":last": end - 1}),
                **position,
            )
            total += sum(int(item["value"]["N"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return total
            position = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def save_summary(self, summary: BatchSummary) -> None:
        item = {
            _ID: _summary_key(summary.source),
            "sourceBucket": summary.source.bucket,
            "sourceKey": summary.source.key,
            "records": summary.records,
            "malformed": summary.malformed,
            "billable": summary.billable,
            "customers": summary.customers,
            "unknownKeys": summary.unknown_keys,
            "ambiguous": summary.ambiguous,
            "reportedAt": summary.reported_at,
            "billed": summary.billed,
            contract.USAGE_REPORTS_TTL_ATTRIBUTE: summary.reported_at + REPORT_RETENTION_SECONDS,
        }
        serialized = {name: _serializer.serialize(value) for name, value in item.items()}
        call_aws(_SERVICE, "record usage summary", self._client.put_item, TableName=self._table, Item=serialized)
        self._keep_if_newest(LATEST_SUMMARY_KEY, serialized, summary.reported_at)
        if summary.billed:
            self._keep_if_newest(LATEST_BILLED_SUMMARY_KEY, serialized, summary.reported_at)

    def _keep_if_newest(self, item_id: str, serialized: dict[str, Any], reported_at: int) -> None:
        """The summary as `item_id`, unless a newer one is there already: two objects reported at once
        must not put an older one back."""
        call_aws(
            _SERVICE,
            "record the latest usage summary",
            self._client.put_item,
            expected={CONDITION_FAILED: answer(None)},  # a newer one is there
            TableName=self._table,
            Item={**serialized, _ID: {"S": item_id}},
            ConditionExpression="attribute_not_exists(#id) OR reportedAt <= :at",
            ExpressionAttributeNames={"#id": _ID},
            ExpressionAttributeValues=_values({":at": reported_at}),
        )

    def summary(self, source: LedgerObject) -> BatchSummary | None:
        return self._summary_at(_summary_key(source))

    def latest_summary(self) -> BatchSummary | None:
        return self._summary_at(LATEST_SUMMARY_KEY)

    def latest_billed_summary(self) -> BatchSummary | None:
        return self._summary_at(LATEST_BILLED_SUMMARY_KEY)

    def _summary_at(self, item_id: str) -> BatchSummary | None:
        item = call_aws(
            _SERVICE, "read usage summary", self._client.get_item, TableName=self._table, Key={_ID: {"S": item_id}}
        ).get("Item")
        if not item:
            return None
        values = {name: _deserializer.deserialize(value) for name, value in item.items()}
        return BatchSummary(
            LedgerObject(values["sourceBucket"], values["sourceKey"]),
            int(values["records"]),
            int(values["malformed"]),
            int(values["billable"]),
            int(values["customers"]),
            {key: int(calls) for key, calls in values["unknownKeys"].items()},
            int(values["ambiguous"]),
            int(values["reportedAt"]),
            # Saved before `billed` was kept: its billable calls are the best figure there is.
            int(values.get("billed", values["billable"])),
        )


def _summary_key(source: LedgerObject) -> str:
    return _SUMMARY_KEY_PREFIX + str(source)


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def _record(item: dict[str, Any]) -> ReportRecord:
    values = {name: _deserializer.deserialize(value) for name, value in item.items()}
    report = MeterReport(
        values[_ID],
        values["customerId"],
        int(values["value"]),
        int(values["timestamp"]),
        LedgerObject(values["sourceBucket"], values["sourceKey"]),
        values.get("priceId", ""),
    )  # none on reports kept from before plans: the default plan's
    return ReportRecord(
        report, ReportState(values["status"]), int(values[contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT])
    )
