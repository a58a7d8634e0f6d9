"""KeyPools on DynamoDB: one item of the accounts table per pooled plan (contract.KEY_POOL_ITEM_PREFIX +
plan id, a key that can never be an email, and no `status`, so no account listing returns it), one
attribute per shard. A shard is recorded with `if_not_exists`, so the first key recorded for it stays
and a racing provisioner learns which one won from the same write
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.SET.PreventingAttributeOverwrites)."""

from __future__ import annotations

from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.key_pools import KeyPool
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.keys import KeyPools

_SERVICE = "DynamoDB"


def _key(plan_id: str) -> dict[str, Any]:
    return {contract.ACCOUNTS_PARTITION_KEY: {"S": contract.KEY_POOL_ITEM_PREFIX + plan_id}}


def _attribute(shard: int) -> str:
    return f"{contract.KEY_POOL_SHARD_PREFIX}{shard:04d}"


def _issued(value: dict[str, Any]) -> IssuedKey:
    return IssuedKey(value["M"]["id"]["S"], value["M"]["value"]["S"])


class DynamoKeyPools(KeyPools):
    """The pool items through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def get(self, plan_id: str) -> KeyPool | None:
        item = call_aws(
            _SERVICE,
            "read key pool",
            self._client.get_item,
            TableName=self._table,
            Key=_key(plan_id),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        prefix = contract.KEY_POOL_SHARD_PREFIX
        return KeyPool(
            plan_id,
            {int(name[len(prefix) :]): _issued(value) for name, value in item.items() if name.startswith(prefix)},
        )

    def record_shard(self, plan_id: str, shard: int, key: IssuedKey) -> IssuedKey:
        answer = call_aws(
            _SERVICE,
            "record pool key",
            self._client.update_item,
            TableName=self._table,
            Key=_key(plan_id),
            UpdateExpression="SET #shard = if_not_exists(#shard, :key)",
            ExpressionAttributeNames={"#shard": _attribute(shard)},
            ExpressionAttributeValues={":key": {"M": {"id": {"S": key.id}, "value": {"S": key.value}}}},
            ReturnValues="ALL_NEW",
        )  # (UPDATED_NEW leaves out an attribute if_not_exists kept)
        return _issued(answer["Attributes"][_attribute(shard)])
