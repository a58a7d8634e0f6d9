"""The authorizer against the keys table in moto: its table from the environment, one GetItem by the
key's hash, DynamoDB's typed values read as plain ones."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from localdev.dev_tables import create_keys_table
from tollgate import contract
from tollgate.domain import api_key_format
from tollgate.handlers import authorizer

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/orders"


@pytest.fixture(scope="module")
def keys_table() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(name, value)
        table = create_keys_table(boto3.client("dynamodb"), name="authorizer-test")
        patch.setenv(contract.ENV_KEYS_TABLE, table)
        yield table


def put_key(table: str, key: str, **attributes: dict[str, str]) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            contract.KEYS_PARTITION_KEY: {"S": hashlib.sha256(key.encode()).hexdigest()},
            contract.KEYS_ATTR_KEY_ID: {"S": hashlib.sha256(key.encode()).hexdigest()[:16]},
            contract.KEYS_ATTR_HINT: {"S": key[-4:]},
            contract.KEYS_ATTR_ACCOUNT: {"S": "someone@example.com"},
            contract.KEYS_ATTR_ACCOUNT_ID: {"S": "acct_Z9y8X7w6V5u4T3s2R1q0"},
            contract.KEYS_ATTR_STATE: {"S": "active"},
            contract.KEYS_ATTR_CREATED_AT: {"N": "1800000000"},
            contract.KEYS_ATTR_ACCOUNT_STATUS: {"S": "active"},
            contract.KEYS_ATTR_PLAN: {"S": "basic"},
            contract.KEYS_ATTR_USAGE_KEY: {"S": "V" * 40},
            contract.KEYS_ATTR_ACCOUNT_VERSION: {"N": "3"},
            **attributes,
        },
    )


def authorize(key: str) -> dict:
    """What the deployed handler answers: an Authorizer on a KeysTable that finds its table and
    client as `handler`'s do (a fresh one, so no client outlives this module's moto)."""
    handler = authorizer.Authorizer(authorizer.KeysTable())
    return handler({"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {"x-api-key": key}}, None)


def test_a_stored_key_is_allowed_from_the_table_the_environment_names(keys_table: str) -> None:
    key = api_key_format.new_key("tgk", "live")
    put_key(keys_table, key)
    answer = authorize(key)
    assert (answer["principalId"], answer["usageIdentifierKey"]) == ("acct_Z9y8X7w6V5u4T3s2R1q0", "V" * 40)
    assert answer["context"] == {
        "accountId": "acct_Z9y8X7w6V5u4T3s2R1q0",
        "plan": "basic",
        "keyHint": key[-4:],
        "usageLimit": contract.USAGE_LIMIT_QUOTA_EXCEEDED,
        "usageLimitUntil": "",
        "usageLimitMessage": contract.USAGE_LIMIT_MESSAGES[contract.USAGE_LIMIT_QUOTA_EXCEEDED],
    }


def test_a_rotated_out_key_reads_its_grace_end_as_a_number(keys_table: str) -> None:
    within, past = api_key_format.new_key("tgk", "live"), api_key_format.new_key("tgk", "live")
    put_key(
        keys_table,
        within,
        **{
            contract.KEYS_ATTR_STATE: {"S": "rotating_out"},
            contract.KEYS_ATTR_NOT_AFTER: {"N": str(int(time.time()) + 3600)},
        },
    )
    put_key(
        keys_table,
        past,
        **{
            contract.KEYS_ATTR_STATE: {"S": "rotating_out"},
            contract.KEYS_ATTR_NOT_AFTER: {"N": str(int(time.time()) - 1)},
        },
    )
    assert authorize(within)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert authorize(past)["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_a_key_not_in_the_table_is_denied(keys_table: str) -> None:
    assert authorize(api_key_format.new_key("tgk", "live"))["policyDocument"]["Statement"][0]["Effect"] == "Deny"
