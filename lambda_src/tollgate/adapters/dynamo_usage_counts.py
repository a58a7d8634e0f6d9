"""UsageCounts on DynamoDB: the usage counts table, one item per (account, UTC hour) (keys
contract.USAGE_COUNTS_PARTITION_KEY / USAGE_COUNTS_SORT_KEY).

An object's counts go in with ONE UpdateItem per hour: ADD the numbers (metered, billable, and
`billed:<price>` per price) and the object's tag to the item's string set, on the condition that
the set does not hold the tag yet; a refused condition means the object was counted there before
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html:
`contains(path, operand)` on a string set; ADD creates a missing number or set). Items expire
contract.USAGE_COUNTS_RETENTION_SECONDS after their hour (TTL). A period's usage is one Query.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import CONDITION_FAILED, answer, call_aws
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.usage_counting import HourCounts, PeriodUsage

_SERVICE = "DynamoDB"
_ACCOUNT, _HOUR = contract.USAGE_COUNTS_PARTITION_KEY, contract.USAGE_COUNTS_SORT_KEY


class DynamoUsageCounts(UsageCounts):
    """The usage counts table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def add(self, counts: HourCounts) -> bool:
        names = {
            "#metered": contract.USAGE_COUNTS_ATTR_METERED,
            "#billable": contract.USAGE_COUNTS_ATTR_BILLABLE,
            "#objects": contract.USAGE_COUNTS_ATTR_OBJECTS,
            "#expires": contract.USAGE_COUNTS_TTL_ATTRIBUTE,
        }
        values: dict[str, Any] = {
            ":metered": {"N": str(counts.metered)},
            ":billable": {"N": str(counts.billable)},
            ":tags": {"SS": [counts.source_tag]},
            ":tag": {"S": counts.source_tag},
            ":expires": {"N": str(counts.hour + contract.USAGE_COUNTS_RETENTION_SECONDS)},
        }
        adds = ["#metered :metered", "#billable :billable", "#objects :tags"]
        for number, (price_id, calls) in enumerate(sorted(counts.billed.items())):
            names[f"#p{number}"] = contract.USAGE_COUNTS_BILLED_PREFIX + price_id
            values[f":p{number}"] = {"N": str(calls)}
            adds.append(f"#p{number} :p{number}")
        return bool(
            call_aws(
                _SERVICE,
                "add usage counts",
                self._client.update_item,
                expected={CONDITION_FAILED: answer(None)},  # the object was counted in this hour before
                TableName=self._table,
                Key={_ACCOUNT: {"S": counts.account_id}, _HOUR: {"N": str(counts.hour)}},
                UpdateExpression=f"ADD {', '.join(adds)} SET #expires = :expires",
                ConditionExpression="attribute_not_exists(#objects) OR NOT contains(#objects, :tag)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            is not None
        )

    def period_usage(self, account_id: str, start: int, end: int) -> PeriodUsage:
        metered = billable = 0
        billed: Counter[str] = Counter()
        start_key: dict[str, Any] = {}
        while True:
            page = call_aws(
                _SERVICE,
                "read usage counts",
                self._client.query,
                TableName=self._table,
                KeyConditionExpression="#account = :account AND #hour BETWEEN :start AND :last",
                ExpressionAttributeNames={"#account": _ACCOUNT, "#hour": _HOUR},
                ExpressionAttributeValues={
                    ":account": {"S": account_id},
                    ":start": {"N": str(start)},
                    ":last": {"N": str(end - 1)},
                },
                ConsistentRead=True,
                **start_key,
            )
            for item in page.get("Items", []):
                metered += int(item.get(contract.USAGE_COUNTS_ATTR_METERED, {"N": "0"})["N"])
                billable += int(item.get(contract.USAGE_COUNTS_ATTR_BILLABLE, {"N": "0"})["N"])
                billed.update(
                    {
                        name.removeprefix(contract.USAGE_COUNTS_BILLED_PREFIX): int(value["N"])
                        for name, value in item.items()
                        if name.startswith(contract.USAGE_COUNTS_BILLED_PREFIX)
                    }
                )
            if "LastEvaluatedKey" not in page:
                return PeriodUsage(metered, billable, dict(billed))
            start_key = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
