"""ReconcilerRuns on DynamoDB: one item of the accounts table, under a key that can never be an email
(contract.RECONCILER_LAST_RUN_KEY) and with no `status`, so no account listing ever returns it."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tollgate import contract
from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.models import ReconcilerRun
from tollgate.domain.ports.reconciler_runs import ReconcilerRuns

_SERVICE = "DynamoDB"
# ReconcilerRun field -> attribute of the item.
_ATTRIBUTES = {
    "started_at": "startedAt",
    "finished_at": "finishedAt",
    "examined": "examined",
    "repaired": "repaired",
    "failed": "failed",
    "cursor": "cursor",
    "stopped_by": "stoppedBy",
    "repairs": "repairs",
    "repairs_at": "repairsAt",
    "orphans_canceled": "orphansCanceled",
}
_COUNTS = frozenset({"started_at", "finished_at", "examined", "repaired", "failed", "repairs_at", "orphans_canceled"})
_KEY = {contract.ACCOUNTS_PARTITION_KEY: {"S": contract.RECONCILER_LAST_RUN_KEY}}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoReconcilerRuns(ReconcilerRuns):
    """The run record through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def last(self) -> ReconcilerRun | None:
        item = call_aws(
            _SERVICE, "read reconciler run", self._client.get_item, TableName=self._table, Key=_KEY, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = {
            name: _deserializer.deserialize(item[attribute])
            for name, attribute in _ATTRIBUTES.items()
            if attribute in item
        }
        if "repairs" in values:
            values["repairs"] = tuple(values["repairs"])
        fields: dict[str, Any] = {name: int(value) if name in _COUNTS else value for name, value in values.items()}
        return ReconcilerRun(**fields)

    def save(self, run: ReconcilerRun) -> None:
        item = {
            attribute: _serializer.serialize(list(value) if isinstance(value, tuple) else value)
            for name, attribute in _ATTRIBUTES.items()
            if (value := getattr(run, name)) is not None
        }
        call_aws(_SERVICE, "write reconciler run", self._client.put_item, TableName=self._table, Item={**_KEY, **item})
