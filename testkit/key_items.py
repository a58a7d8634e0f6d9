"""Keys-table items as the runtime's writers store them (tollgate.contract KEYS_*), for tests that need a
key the authorizer honours without going through a sign-up: the gateway's and the authorizer's own."""

from __future__ import annotations

from typing import Any

from tollgate import contract
from tollgate.domain import api_key_format


def key_item(
    key: str, usage_key: str, account_id: str = "acct_TestAccount0000000001", plan: str = "free", **overrides: Any
) -> dict[str, dict[str, str]]:
    """The DynamoDB item of a live `key` of an active account whose API Gateway key's value is
    `usage_key`; `overrides` replace attributes by name, with plain values (str or int)."""
    key_hash = api_key_format.key_hash(key)  # a legacy key value is stored by the same hash
    plain: dict[str, Any] = {
        contract.KEYS_PARTITION_KEY: key_hash,
        contract.KEYS_ATTR_KEY_ID: key_hash[:16],
        contract.KEYS_ATTR_HINT: api_key_format.key_hint(key),
        contract.KEYS_ATTR_ACCOUNT: f"{account_id}@example.com",
        contract.KEYS_ATTR_ACCOUNT_ID: account_id,
        contract.KEYS_ATTR_STATE: "active",
        contract.KEYS_ATTR_CREATED_AT: 1_800_000_000,
        contract.KEYS_ATTR_ACCOUNT_STATUS: "active",
        contract.KEYS_ATTR_PLAN: plan,
        contract.KEYS_ATTR_USAGE_KEY: usage_key,
        contract.KEYS_ATTR_ACCOUNT_VERSION: 1,
        **overrides,
    }
    return {name: {"N": str(value)} if isinstance(value, int) else {"S": value} for name, value in plain.items()}


def put_key(dynamodb: Any, table: str, key: str, usage_key: str, **overrides: Any) -> None:
    """Store `key_item(...)` in `table` with a boto3 DynamoDB client."""
    dynamodb.put_item(TableName=table, Item=key_item(key, usage_key, **overrides))
