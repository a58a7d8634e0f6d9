"""CustomerAccess on DynamoDB: the customer access table (key contract.ACCESS_PARTITION_KEY, TTL
contract.ACCESS_TTL_ATTRIBUTE), one item per:

- link (`link#<token hash>`): purpose, email, the sign-up it confirms; removed by its single use;
- session (`session#<token hash>`): its account's email under contract.ACCESS_ATTR_OWNER (the sparse
  `byOwner` index: sign out everywhere), created and expiry;
- email count (`emails#<address hash>#<hour>`): how many emails the address got that hour;
- key-retirement reminder (`retire#<key id>`): the account's email, and the sparse `due` index's
  kind and time.
DynamoDB removes expired items within days, not at once: every reader checks the expiry itself.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tollgate import contract
from tollgate.adapters.aws_clients import CONDITION_FAILED, answer, call_aws
from tollgate.domain.customer_access import EmailLink, KeyRetirement, LinkPurpose, Session
from tollgate.domain.models import Registrant
from tollgate.domain.ports.customer_access import CustomerAccess

_SERVICE = "DynamoDB"
_ID, _EXPIRES = contract.ACCESS_PARTITION_KEY, contract.ACCESS_TTL_ATTRIBUTE
_RETIREMENT_KIND = "key-retirement"
RETIREMENT_MEMORY_SECONDS = 30 * 24 * 3600  # a reminder nobody acted on is forgotten a month after its time
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoCustomerAccess(CustomerAccess):
    """The customer access table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def put_link(self, link: EmailLink) -> None:
        registrant = link.registrant
        self._put(
            {
                _ID: f"link#{link.token_hash}",
                "purpose": link.purpose.value,
                "email": link.email,
                _EXPIRES: link.expires_at,
                **({"firstName": registrant.first_name, "lastName": registrant.last_name} if registrant else {}),
                **({"planId": registrant.plan_id} if registrant and registrant.plan_id else {}),
            },
            "store email link",
        )

    def get_link(self, token_hash: str) -> EmailLink | None:
        item = self._get(f"link#{token_hash}", "read email link")
        if item is None:
            return None
        registrant = (
            Registrant(item["email"], item["firstName"], item["lastName"], item.get("planId"))
            if "firstName" in item
            else None
        )
        return EmailLink(token_hash, LinkPurpose(item["purpose"]), item["email"], int(item[_EXPIRES]), registrant)

    def use_link(self, token_hash: str) -> bool:
        return (
            call_aws(
                _SERVICE,
                "use email link",
                self._client.delete_item,
                expected={CONDITION_FAILED: answer(False)},
                TableName=self._table,
                Key=_key(f"link#{token_hash}"),
                ConditionExpression="attribute_exists(#id)",
                ExpressionAttributeNames={"#id": _ID},
            )
            is not False
        )

    def drop_links_to(self, email: str) -> int:
        dropped = 0
        start: dict[str, Any] = {}
        while True:
            page = call_aws(
                _SERVICE,
                "find email links",
                self._client.scan,
                TableName=self._table,
                FilterExpression="begins_with(#id, :link) AND #email = :email",
                ExpressionAttributeNames={"#id": _ID, "#email": "email"},
                ExpressionAttributeValues=_values({":link": "link#", ":email": email}),
                ProjectionExpression="#id",
                ConsistentRead=True,
                **start,
            )
            for item in page.get("Items", []):
                dropped += self.use_link(item[_ID]["S"].removeprefix("link#"))
            if "LastEvaluatedKey" not in page:
                return dropped
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def count_email(self, address_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        return (
            call_aws(
                _SERVICE,
                "count emails",
                self._client.update_item,
                expected={CONDITION_FAILED: answer(False)},
                TableName=self._table,
                Key=_key(f"emails#{address_hash}#{window_start}"),
                UpdateExpression="ADD sent :one SET #expires = :expires",
                ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
                ExpressionAttributeNames={"#expires": _EXPIRES},
                ExpressionAttributeValues=_values({":one": 1, ":limit": limit, ":expires": expires_at}),
            )
            is not False
        )

    def put_session(self, session: Session) -> None:
        self._put(
            {
                _ID: f"session#{session.token_hash}",
                contract.ACCESS_ATTR_OWNER: session.email,
                "createdAt": session.created_at,
                _EXPIRES: session.expires_at,
            },
            "store session",
        )

    def get_session(self, token_hash: str) -> Session | None:
        item = self._get(f"session#{token_hash}", "read session")
        if item is None:
            return None
        return Session(token_hash, item[contract.ACCESS_ATTR_OWNER], int(item["createdAt"]), int(item[_EXPIRES]))

    def delete_session(self, token_hash: str) -> None:
        call_aws(
            _SERVICE,
            "close session",
            self._client.delete_item,
            TableName=self._table,
            Key=_key(f"session#{token_hash}"),
        )

    def sessions_of(self, email: str) -> list[str]:
        items = self._query(
            "list sessions",
            IndexName=contract.ACCESS_INDEX_BY_OWNER,
            KeyConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": contract.ACCESS_ATTR_OWNER},
            ExpressionAttributeValues=_values({":owner": email}),
        )
        return [item[_ID].removeprefix("session#") for item in items]

    def remind_retirement(self, reminder: KeyRetirement) -> None:
        self._put(
            {
                _ID: f"retire#{reminder.key_id}",
                "email": reminder.email,
                contract.ACCESS_ATTR_DUE_KIND: _RETIREMENT_KIND,
                contract.ACCESS_ATTR_DUE_AT: reminder.due_at,
                _EXPIRES: reminder.due_at + RETIREMENT_MEMORY_SECONDS,
            },
            "remember key retirement",
        )

    def due_retirements(self, now: int) -> list[KeyRetirement]:
        items = self._query(
            "list due key retirements",
            IndexName=contract.ACCESS_INDEX_DUE,
            KeyConditionExpression="#kind = :kind AND #due <= :now",
            ExpressionAttributeNames={"#kind": contract.ACCESS_ATTR_DUE_KIND, "#due": contract.ACCESS_ATTR_DUE_AT},
            ExpressionAttributeValues=_values({":kind": _RETIREMENT_KIND, ":now": now}),
        )
        return [
            KeyRetirement(item[_ID].removeprefix("retire#"), item["email"], int(item[contract.ACCESS_ATTR_DUE_AT]))
            for item in items
        ]

    def forget_retirement(self, key_id: str) -> None:
        call_aws(
            _SERVICE,
            "forget key retirement",
            self._client.delete_item,
            TableName=self._table,
            Key=_key(f"retire#{key_id}"),
        )

    def _put(self, item: dict[str, Any], action: str) -> None:
        call_aws(
            _SERVICE,
            action,
            self._client.put_item,
            TableName=self._table,
            Item={name: _serializer.serialize(value) for name, value in item.items()},
        )

    def _get(self, item_id: str, action: str) -> dict[str, Any] | None:
        item = call_aws(
            _SERVICE, action, self._client.get_item, TableName=self._table, Key=_key(item_id), ConsistentRead=True
        ).get("Item")
        return {name: _deserializer.deserialize(value) for name, value in item.items()} if item else None

    def _query(self, action: str, **parameters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] = {}
        while True:
            page = call_aws(_SERVICE, action, self._client.query, TableName=self._table, **parameters, **start)
            items += [
                {name: _deserializer.deserialize(value) for name, value in item.items()}
                for item in page.get("Items", [])
            ]
            if "LastEvaluatedKey" not in page:
                return items
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _key(item_id: str) -> dict[str, Any]:
    return {_ID: {"S": item_id}}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}
