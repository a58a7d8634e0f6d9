"""CreditLedger on DynamoDB: the credits table, key (account id, entry id), attribute names contract.CREDITS_*.

An entry is appended in one TransactWriteItems with the account's balance item: Put the entry on condition
its id is new, and ADD its amount to the balance. Both or neither: a repeated entry cancels the
transaction (ConditionalCheckFailed on the Put) and the balance is left alone, so the balance is always
the sum of the entries, read with one GetItem
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tollgate import contract
from tollgate.adapters.aws_clients import TRANSACTION_CANCELED, call_aws, cancellation_reasons, downstream_error
from tollgate.domain.credits import CreditEntry, CreditKind
from tollgate.domain.ports.credits import CreditLedger

_SERVICE = "DynamoDB"
_CONDITION_FAILED = "ConditionalCheckFailed"


class DynamoCreditLedger(CreditLedger):
    """The credits table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def append(self, entry: CreditEntry) -> bool:
        item = {
            **_key(entry.account_id, entry.entry_id),
            contract.CREDITS_ATTR_KIND: {"S": entry.kind.value},
            contract.CREDITS_ATTR_AMOUNT: {"N": str(entry.amount)},
            contract.CREDITS_ATTR_AT: {"N": str(entry.at)},
            contract.CREDITS_ATTR_NOTE: {"S": entry.note},
        }

        def canceled(error: ClientError) -> bool:
            if cancellation_reasons(error)[:1] == [_CONDITION_FAILED]:
                return False  # appended before: nothing moves
            raise downstream_error(_SERVICE, "append credit entry", error)

        appended = call_aws(
            _SERVICE,
            "append credit entry",
            self._client.transact_write_items,
            expected={TRANSACTION_CANCELED: canceled},
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(#entry)",
                        "ExpressionAttributeNames": {"#entry": contract.CREDITS_SORT_KEY},
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _key(entry.account_id, contract.CREDITS_BALANCE_ENTRY_ID),
                        "UpdateExpression": "ADD #balance :amount",
                        "ExpressionAttributeNames": {"#balance": contract.CREDITS_ATTR_BALANCE},
                        "ExpressionAttributeValues": {":amount": {"N": str(entry.amount)}},
                    }
                },
            ],
        )
        return appended is not False

    def balance(self, account_id: str) -> int:
        item = call_aws(
            _SERVICE,
            "read credit balance",
            self._client.get_item,
            TableName=self._table,
            Key=_key(account_id, contract.CREDITS_BALANCE_ENTRY_ID),
            ConsistentRead=True,
        ).get("Item")
        return int(item[contract.CREDITS_ATTR_BALANCE]["N"]) if item else 0

    def entries(self, account_id: str) -> list[CreditEntry]:
        found: list[CreditEntry] = []
        start: dict[str, Any] = {}
        while True:
            page = call_aws(
                _SERVICE,
                "read credit entries",
                self._client.query,
                TableName=self._table,
                KeyConditionExpression="#account = :account",
                ExpressionAttributeNames={"#account": contract.CREDITS_PARTITION_KEY},
                ExpressionAttributeValues={":account": {"S": account_id}},
                **start,
            )
            found += [
                _entry(item)
                for item in page.get("Items", [])
                if item[contract.CREDITS_SORT_KEY]["S"] != contract.CREDITS_BALANCE_ENTRY_ID
            ]
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda entry: (entry.at, entry.entry_id))
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _key(account_id: str, entry_id: str) -> dict[str, Any]:
    return {contract.CREDITS_PARTITION_KEY: {"S": account_id}, contract.CREDITS_SORT_KEY: {"S": entry_id}}


def _entry(item: dict[str, Any]) -> CreditEntry:
    return CreditEntry(
        item[contract.CREDITS_PARTITION_KEY]["S"],
        item[contract.CREDITS_SORT_KEY]["S"],
        CreditKind(item[contract.CREDITS_ATTR_KIND]["S"]),
        int(item[contract.CREDITS_ATTR_AMOUNT]["N"]),
        int(item[contract.CREDITS_ATTR_AT]["N"]),
        item.get(contract.CREDITS_ATTR_NOTE, {}).get("S", ""),
    )
