"""The DynamoDB tables of `make dev` and the test moto stack, made as the stack makes them (names, keys and
indexes from tollgate.contract)."""

from __future__ import annotations

from typing import Any

from tollgate import contract

NAME = "tollgate-dev"


def create_credits_table(dynamodb: Any, name: str = NAME) -> str:
    """Prepaid accounts' credit entries and balances (infra/prepaid_credits.py's table)."""
    table = f"{name}-credits"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": contract.CREDITS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.CREDITS_SORT_KEY, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": contract.CREDITS_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": contract.CREDITS_SORT_KEY, "KeyType": "RANGE"},
        ],
    )
    return table


def create_tables(dynamodb: Any, name: str = NAME) -> tuple[str, str]:
    accounts, idempotency = f"{name}-accounts", f"{name}-idempotency"
    key_attributes = [(contract.ACCOUNTS_PARTITION_KEY, "S")] + [
        (attribute, kind) for _, attribute, kind in contract.ACCOUNTS_INDEXES
    ]
    dynamodb.create_table(
        TableName=accounts,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind} for name, kind in key_attributes],
        KeySchema=[{"AttributeName": contract.ACCOUNTS_PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, attribute, _ in contract.ACCOUNTS_INDEXES
        ],
    )
    dynamodb.create_table(
        TableName=idempotency,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": contract.IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": contract.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
    )
    for table, attribute in (
        (accounts, contract.ACCOUNTS_TTL_ATTRIBUTE),
        (idempotency, contract.IDEMPOTENCY_TTL_ATTRIBUTE),
    ):
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
    return accounts, idempotency


def create_keys_table(dynamodb: Any, name: str = NAME) -> str:
    """The keys table (tollgate.domain.key_items) as infra makes it: hash-keyed, TTL on ended keys."""
    table = f"{name}-keys"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": contract.KEYS_PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": contract.KEYS_PARTITION_KEY, "KeyType": "HASH"}],
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.KEYS_TTL_ATTRIBUTE}
    )
    return table


def create_customer_accounts(dynamodb: Any, sesv2: Any, email_sender: str, name: str = NAME) -> str:
    """The customer access table and the sender's SES identity (moto verifies it at once)."""
    table = f"{name}-customer-access"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (
                (contract.ACCESS_PARTITION_KEY, "S"),
                (contract.ACCESS_ATTR_OWNER, "S"),
                (contract.ACCESS_ATTR_DUE_KIND, "S"),
                (contract.ACCESS_ATTR_DUE_AT, "N"),
            )
        ],
        KeySchema=[{"AttributeName": contract.ACCESS_PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": contract.ACCESS_INDEX_BY_OWNER,
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [{"AttributeName": contract.ACCESS_ATTR_OWNER, "KeyType": "HASH"}],
            },
            {
                "IndexName": contract.ACCESS_INDEX_DUE,
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": contract.ACCESS_ATTR_DUE_KIND, "KeyType": "HASH"},
                    {"AttributeName": contract.ACCESS_ATTR_DUE_AT, "KeyType": "RANGE"},
                ],
            },
        ],
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.ACCESS_TTL_ATTRIBUTE}
    )
    sesv2.create_email_identity(EmailIdentity=email_sender)
    return table


def create_usage_counts_table(dynamodb: Any, name: str = NAME) -> str:
    """The usage counts table: (account, hour) keys and TTL, as infra/usage_metering.py makes it."""
    table = f"{name}-usage-counts"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": contract.USAGE_COUNTS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.USAGE_COUNTS_SORT_KEY, "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": contract.USAGE_COUNTS_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": contract.USAGE_COUNTS_SORT_KEY, "KeyType": "RANGE"},
        ],
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.USAGE_COUNTS_TTL_ATTRIBUTE}
    )
    return table
