"""KeyItems on DynamoDB: the keys table, one item per key hash (attribute names: contract.KEYS_*).

A copy of the account row is written only over an item that exists and holds no newer copy
(`account_version`), in one conditional UpdateItem: a writer that read an older row can never
undo a newer writer's copy, and a removed item is never brought back by a late writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import CONDITION_FAILED, answer, call_aws, refuse
from tollgate.domain.errors import ConcurrentUpdate
from tollgate.domain.key_items import KeyItem
from tollgate.domain.key_ring import KeyState
from tollgate.domain.ports.keys import KeyItems

_SERVICE = "DynamoDB"
# What `follow` writes: the key's state and the account copy (hint, owner and creation never change).
_FOLLOWED: dict[str, Callable[[KeyItem], dict[str, str]]] = {
    contract.KEYS_ATTR_STATE: lambda item: {"S": item.state.value},
    contract.KEYS_ATTR_ACCOUNT_STATUS: lambda item: {"S": item.account_status},
    contract.KEYS_ATTR_PLAN: lambda item: {"S": item.plan},
    contract.KEYS_ATTR_USAGE_KEY: lambda item: {"S": item.usage_key},
    contract.KEYS_ATTR_ACCOUNT_VERSION: lambda item: {"N": str(item.account_version)},
}
# Attribute -> (KeyItem field, DynamoDB type): written when set, removed when not.
_OPTIONAL = {
    contract.KEYS_ATTR_NOT_AFTER: ("not_after", "N"),
    contract.KEYS_TTL_ATTRIBUTE: ("expires_at", "N"),
    contract.KEYS_ATTR_USAGE_LIMIT: ("usage_limit", "S"),
    contract.KEYS_ATTR_USAGE_LIMIT_UNTIL: ("usage_limit_until", "N"),
}


class DynamoKeyItems(KeyItems):
    """The keys table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def put(self, item: KeyItem) -> None:
        call_aws(
            _SERVICE,
            "write key",
            self._client.put_item,
            TableName=self._table,
            Item=_item(item),
            ConditionExpression="attribute_not_exists(#hash)",
            ExpressionAttributeNames={"#hash": contract.KEYS_PARTITION_KEY},
            expected={CONDITION_FAILED: refuse(ConcurrentUpdate(f"a key item {item.key_id} exists"))},
        )

    def get(self, key_hash: str) -> KeyItem | None:
        found = call_aws(
            _SERVICE,
            "read key",
            self._client.get_item,
            TableName=self._table,
            Key={contract.KEYS_PARTITION_KEY: {"S": key_hash}},
        ).get("Item")
        return _key_item(found) if found else None

    def follow(self, item: KeyItem) -> bool:
        names = {f"#f{number}": name for number, name in enumerate((*_FOLLOWED, *_OPTIONAL))}
        names.update({"#hash": contract.KEYS_PARTITION_KEY, "#version": contract.KEYS_ATTR_ACCOUNT_VERSION})
        values: dict[str, Any] = {":version": {"N": str(item.account_version)}}
        sets, removes = [], []
        for number, name in enumerate((*_FOLLOWED, *_OPTIONAL)):
            value = _FOLLOWED[name](item) if name in _FOLLOWED else _optional(item, name)
            if value is None:
                removes.append(f"#f{number}")
                continue
            sets.append(f"#f{number} = :f{number}")
            values[f":f{number}"] = value
        return (
            call_aws(
                _SERVICE,
                "update key",
                self._client.update_item,
                TableName=self._table,
                Key={contract.KEYS_PARTITION_KEY: {"S": item.key_hash}},
                UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
                ConditionExpression="attribute_exists(#hash) AND "
                "(attribute_not_exists(#version) OR #version <= :version)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                expected={CONDITION_FAILED: answer(False)},
            )
            is not False
        )

    def delete(self, key_hash: str) -> None:
        call_aws(
            _SERVICE,
            "remove key",
            self._client.delete_item,
            TableName=self._table,
            Key={contract.KEYS_PARTITION_KEY: {"S": key_hash}},
        )


def _item(item: KeyItem) -> dict[str, Any]:
    stored = {
        contract.KEYS_PARTITION_KEY: {"S": item.key_hash},
        contract.KEYS_ATTR_KEY_ID: {"S": item.key_id},
        contract.KEYS_ATTR_HINT: {"S": item.hint},
        contract.KEYS_ATTR_ACCOUNT: {"S": item.account},
        contract.KEYS_ATTR_ACCOUNT_ID: {"S": item.account_id},
        contract.KEYS_ATTR_CREATED_AT: {"N": str(item.created_at)},
    }
    stored.update({name: value(item) for name, value in _FOLLOWED.items()})
    stored.update({name: value for name in _OPTIONAL if (value := _optional(item, name)) is not None})
    return stored


def _optional(item: KeyItem, name: str) -> dict[str, str] | None:
    field_name, kind = _OPTIONAL[name]
    value = getattr(item, field_name)
    return None if value is None else {kind: str(value)}


def _key_item(stored: dict[str, Any]) -> KeyItem:
    def number(name: str) -> int | None:
        return int(stored[name]["N"]) if name in stored else None

    return KeyItem(
        key_hash=stored[contract.KEYS_PARTITION_KEY]["S"],
        hint=stored[contract.KEYS_ATTR_HINT]["S"],
        account=stored[contract.KEYS_ATTR_ACCOUNT]["S"],
        account_id=stored[contract.KEYS_ATTR_ACCOUNT_ID]["S"],
        state=KeyState(stored[contract.KEYS_ATTR_STATE]["S"]),
        created_at=number(contract.KEYS_ATTR_CREATED_AT) or 0,
        account_status=stored[contract.KEYS_ATTR_ACCOUNT_STATUS]["S"],
        plan=stored[contract.KEYS_ATTR_PLAN]["S"],
        usage_key=stored[contract.KEYS_ATTR_USAGE_KEY]["S"],
        account_version=number(contract.KEYS_ATTR_ACCOUNT_VERSION) or 0,
        not_after=number(contract.KEYS_ATTR_NOT_AFTER),
        expires_at=number(contract.KEYS_TTL_ATTRIBUTE),
        usage_limit=stored.get(contract.KEYS_ATTR_USAGE_LIMIT, {}).get("S"),
        usage_limit_until=number(contract.KEYS_ATTR_USAGE_LIMIT_UNTIL),
    )
