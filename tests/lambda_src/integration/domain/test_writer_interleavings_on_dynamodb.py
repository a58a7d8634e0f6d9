"""The writer interleavings of tests/lambda_src/unit/domain/test_writer_interleavings.py, a
representative set of them on DynamoDB (moto) instead of the fake: the conditional writes on the
row's version, the diff-only updates and the event records are DynamoDB's own here."""

from __future__ import annotations

import boto3
import pytest

from testkit.account_writers import WRITERS, interleave
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts

BY_NAME = {writer.name: writer for writer in WRITERS}
# Each pair at the read of the first writer after which the second writer hurts most: between the
# read it decides on and the write it makes (found on fakes by the full matrix).
REPRESENTATIVE = [
    ("rotation", "change to free", 1),  # scenario 1
    ("change to free", "rotation", 1),
    ("webhook: falls behind", "change to pro", 1),  # scenario 2
    ("reconciler", "change to pro", 2),
    ("change to pro", "webhook: falls behind", 1),
    ("retirement", "change to free", 3),  # scenario 7's kind: a key ended while the row says otherwise
    ("checkout: adds a card", "webhook: falls behind", 1),
]


@pytest.fixture
def accounts(aws) -> DynamoAccounts:
    """The module's accounts table, emptied: each case's fakes number their ids from 1 again."""
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=aws.accounts_table, ProjectionExpression="email")["Items"]:
        dynamodb.delete_item(TableName=aws.accounts_table, Key=item)
    return DynamoAccounts(AwsClients().client("dynamodb"), aws.accounts_table)


@pytest.mark.parametrize(
    "first, second, read", REPRESENTATIVE, ids=[f"{a} | {b} after read {n}" for a, b, n in REPRESENTATIVE]
)
def test_no_update_is_lost_on_dynamodb(accounts, first, second, read):
    interleave(BY_NAME[first], BY_NAME[second], read, accounts)
