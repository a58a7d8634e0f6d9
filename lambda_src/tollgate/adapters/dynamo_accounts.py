"""Accounts on DynamoDB: one item per normalised email, every write conditional on the row's
`version` (tollgate.domain.account), so a writer that read an older row never writes over a newer
one, and two invocations can never both believe they own a sign-up or both apply a billing event.

An update writes only the attributes that differ from the row read (SET what changed, REMOVE what
went) and increments `version`, in one UpdateItem; when an earlier key becomes findable, or a
Stripe event is recorded with the write, the same update goes into one TransactWriteItems with
those items (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
Rows written before versions existed have none: they are version 0, and the first write requires
the attribute to be absent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from tollgate import contract
from tollgate.adapters.aws_clients import (
    CONDITION_FAILED,
    TRANSACTION_CANCELED,
    call_aws,
    cancellation_reasons,
    downstream_error,
    refuse,
)
from tollgate.adapters.dynamo_account_parts import history_entry, key_entry, key_record, status_change
from tollgate.adapters.dynamo_spend_control import (
    alerts_sent_entry,
    alerts_sent_of,
    spend_settings_entry,
    spend_settings_of,
)
from tollgate.domain.account import (
    Account,
    AccountStatus,
    AppliedEvent,
)
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.plan_state import PlanChange, PlanIntent
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.usage_limit import UsageLimit

_SERVICE = "DynamoDB"
_TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"  # the code inside CancellationReasons
# Bookkeeping items share the table under a key that can never be an email (no '@').
BILLING_EVENT_KEY_PREFIX = "stripe-event#"

# Account field -> item attribute. The ids double as GSI partition keys (names in tollgate.contract.tables).
_ATTRIBUTES = {
    "email": contract.ACCOUNTS_PARTITION_KEY,
    "status": "status",
    "first_name": "firstName",
    "last_name": "lastName",
    "version": "version",
    "plan_id": "planId",
    "price_id": "priceId",
    "api_key_id": contract.ACCOUNTS_ATTR_API_KEY_ID,
    "usage_key": "usageKey",
    "pool_key_id": "poolKeyId",
    "account_id": contract.ACCOUNTS_ATTR_ACCOUNT_ID,
    "customer_id": contract.ACCOUNTS_ATTR_CUSTOMER_ID,
    "subscription_id": contract.ACCOUNTS_ATTR_SUBSCRIPTION_ID,
    "customer_idempotency_key": "customerIdempotencyKey",
    "lease_expires_at": "leaseExpiresAt",
    "attempt_id": "attemptId",
    "request_fingerprint": "requestFingerprint",
    "failure_reason": "failureReason",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "history": "history",
    "last_billing_event_id": "lastBillingEventId",
    "last_billing_event_at": "lastBillingEventAt",
    "keys_synced_to": "keysSyncedTo",
    "cut_off_reason": "cutOffReason",
    "owes_since": "owesSince",
    "last_checkout_session_id": "lastCheckoutSessionId",
    "keys": "keys",
    "plan_changes": "planChanges",
    "pending_plan_id": "pendingPlanId",
    "plan_intent": "planIntent",
    "usage_limit": "usageLimit",
    "spend_settings": "spendSettings",
    "alerts_sent": "alertsSent",
}
_FIELDS = {attribute: name for name, attribute in _ATTRIBUTES.items()}
_NUMBERS = ("version", "lease_expires_at", "created_at", "updated_at", "last_billing_event_at", "owes_since")
_VERSION = _ATTRIBUTES["version"]
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_KEY_INDEX_EMAIL = "accountEmail"  # the attribute of an `api-key#<id>` item naming its account


class DynamoAccounts(Accounts):
    """The accounts table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def get(self, email: str) -> Account | None:
        item = self._call(
            "read account", self._client.get_item, TableName=self._table, Key=_key(email), ConsistentRead=True
        ).get("Item")
        return _account(item) if item else None

    def create(self, account: Account) -> Account:
        stored = replace(account, version=1)
        self._call(
            "write account",
            self._client.put_item,
            TableName=self._table,
            Item=_item(stored),
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": contract.ACCOUNTS_PARTITION_KEY},
        )
        return stored

    def update(self, account: Account, read: Account, event: AppliedEvent | None = None) -> Account:
        stored = replace(account, email=read.email, version=read.version + 1)
        before, after = _item(read), _item(stored)
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        condition = _version_is(read, names, values)
        sets, removes = [], []
        changed = sorted(
            attribute
            for attribute in set(before) | set(after)
            if attribute != contract.ACCOUNTS_PARTITION_KEY and before.get(attribute) != after.get(attribute)
        )
        for number, attribute in enumerate(changed):
            names[f"#a{number}"] = attribute
            if attribute in after:
                sets.append(f"#a{number} = :a{number}")
                values[f":a{number}"] = after[attribute]
            else:
                removes.append(f"#a{number}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        update = {
            "TableName": self._table,
            "Key": _key(read.email),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        extra = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**_key(contract.ACCOUNTS_KEY_INDEX_PREFIX + key_id), _KEY_INDEX_EMAIL: {"S": read.email}},
                }
            }
            for key_id in _earlier_keys(stored) - _earlier_keys(read)
        ]
        if event is not None:
            extra.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            contract.ACCOUNTS_PARTITION_KEY: {"S": BILLING_EVENT_KEY_PREFIX + event.event_id},
                            contract.ACCOUNTS_TTL_ATTRIBUTE: {"N": str(event.remember_until)},
                        },
                        "ConditionExpression": "attribute_not_exists(#key)",
                        "ExpressionAttributeNames": {"#key": contract.ACCOUNTS_PARTITION_KEY},
                    }
                }
            )
        if not extra:
            self._call("write account", self._client.update_item, **update)
            return stored

        def canceled(error: ClientError) -> None:
            reasons = cancellation_reasons(error)
            if event is not None and reasons[-1:] == [_TRANSACTION_CONDITION_FAILED]:
                raise EventAlreadyApplied(event.event_id)
            if reasons[:1] == [_TRANSACTION_CONDITION_FAILED]:
                raise ConcurrentUpdate(f"{read.email} changed meanwhile")
            raise downstream_error(_SERVICE, "write account", error)

        call_aws(
            _SERVICE,
            "write account",
            self._client.transact_write_items,
            expected={TRANSACTION_CANCELED: canceled},
            TransactItems=[{"Update": update}, *extra],
        )
        return stored

    def delete(self, read: Account) -> None:
        """With the row go the `api-key#` items of its earlier keys, in one transaction."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        condition = _version_is(read, names, values)
        delete = {
            "TableName": self._table,
            "Key": _key(read.email),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            **({"ExpressionAttributeValues": values} if values else {}),
        }
        pointers = [
            {"Delete": {"TableName": self._table, "Key": _key(contract.ACCOUNTS_KEY_INDEX_PREFIX + key_id)}}
            for key_id in sorted(_earlier_keys(read))
        ]
        if not pointers:
            self._call("delete account", self._client.delete_item, **delete)
            return

        def canceled(error: ClientError) -> None:
            if cancellation_reasons(error)[:1] == [_TRANSACTION_CONDITION_FAILED]:
                raise ConcurrentUpdate(f"{read.email} changed meanwhile")
            raise downstream_error(_SERVICE, "delete account", error)

        call_aws(
            _SERVICE,
            "delete account",
            self._client.transact_write_items,
            expected={TRANSACTION_CANCELED: canceled},
            TransactItems=[{"Delete": delete}, *pointers],
        )

    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        """The current key through the `byApiKeyId` index; any earlier key through its index item
        (`api-key#<id>` -> email), kept only if the row still records that key."""
        current = self._find(contract.ACCOUNTS_INDEX_BY_API_KEY_ID, contract.ACCOUNTS_ATTR_API_KEY_ID, api_key_id)
        if current is not None:
            return current
        pointer = self._call(
            "find account by key",
            self._client.get_item,
            TableName=self._table,
            Key=_key(contract.ACCOUNTS_KEY_INDEX_PREFIX + api_key_id),
        ).get("Item")
        account = self.get(pointer[_KEY_INDEX_EMAIL]["S"]) if pointer else None
        return account if account is not None and account.owns_gateway_key(api_key_id) else None

    def find_by_account_id(self, account_id: str) -> Account | None:
        return self._find(contract.ACCOUNTS_INDEX_BY_ACCOUNT_ID, contract.ACCOUNTS_ATTR_ACCOUNT_ID, account_id)

    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        return self._find(
            contract.ACCOUNTS_INDEX_BY_SUBSCRIPTION_ID, contract.ACCOUNTS_ATTR_SUBSCRIPTION_ID, subscription_id
        )

    def find_by_customer_id(self, customer_id: str) -> Account | None:
        return self._find(contract.ACCOUNTS_INDEX_BY_CUSTOMER_ID, contract.ACCOUNTS_ATTR_CUSTOMER_ID, customer_id)

    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        """A filtered scan: only operators and the hourly housekeeping call it, on a table of one
        item per customer."""
        values = {f":status{n}": {"S": status.value} for n, status in enumerate(statuses)}
        items = self._scan(
            "list accounts",
            FilterExpression=f"#status IN ({', '.join(values)})",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        return [_account(item) for item in items]

    def list_to_follow_up(self) -> list[Account]:
        """A scan of the sparse follow-up index: only the rows to follow up are in it."""
        return [
            _account(item)
            for item in self._scan("list accounts to follow up", IndexName=contract.ACCOUNTS_INDEX_FOLLOW_UP)
        ]

    def count_by_status(self) -> dict[AccountStatus, int]:
        """A scan of the status attribute alone (the bookkeeping items have none)."""
        counts: dict[AccountStatus, int] = {}
        for item in self._scan(
            "count accounts",
            ProjectionExpression="#status",
            FilterExpression="attribute_exists(#status)",
            ExpressionAttributeNames={"#status": "status"},
        ):
            status = AccountStatus(item["status"]["S"])
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _scan(self, action: str, **parameters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] = {}
        while True:
            page = self._call(action, self._client.scan, TableName=self._table, **parameters, **start)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _find(self, index: str, attribute: str, value: str) -> Account | None:
        page = self._call(
            "find account",
            self._client.query,
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#id = :id",
            ExpressionAttributeNames={"#id": attribute},
            ExpressionAttributeValues={":id": {"S": value}},
            Limit=1,
        )
        items = page.get("Items", [])
        return _account(items[0]) if items else None

    @staticmethod
    def _call(action: str, operation: Any, **parameters: Any) -> dict[str, Any]:
        return call_aws(
            _SERVICE,
            action,
            operation,
            expected={CONDITION_FAILED: refuse(ConcurrentUpdate(f"{action}: the account changed meanwhile"))},
            **parameters,
        )


def _key(email: str) -> dict[str, Any]:
    return {contract.ACCOUNTS_PARTITION_KEY: {"S": email}}


def _version_is(read: Account, names: dict[str, str], values: dict[str, Any]) -> str:
    """The condition that the stored row is still the one read; adds the names and values it uses."""
    names["#v"] = _VERSION
    if read.version == 0:  # written before versions existed (or never written: then it must exist)
        names["#key"] = contract.ACCOUNTS_PARTITION_KEY
        return "attribute_exists(#key) AND attribute_not_exists(#v)"
    values[":read_version"] = {"N": str(read.version)}
    return "#v = :read_version"


def _earlier_keys(account: Account) -> set[str]:
    """API Gateway keys of the account that are not its usage key (each findable through an `api-key#`
    item): those of rows from before issue 20, which rotated API Gateway keys."""
    return {
        gateway_id
        for record in account.key_records
        if (gateway_id := record.own_gateway_key_id) and gateway_id != account.api_key_id
    }


def _item(account: Account) -> dict[str, Any]:
    """Unset fields are left out: an empty GSI key attribute is rejected by DynamoDB."""
    item = {}
    for name, attribute in _ATTRIBUTES.items():
        value = getattr(account, name)
        if value is None or (name in ("keys", "plan_changes") and not value):
            continue  # a row without key records (written before they existed) keeps none
        if name == "history":
            value = [history_entry(change) for change in value]
        elif name == "keys":
            value = [key_entry(record) for record in value]
        elif name == "plan_changes":
            value = [
                {
                    "at": change.at,
                    "from": change.from_plan,
                    "to": change.to_plan,
                    "cause": change.cause,
                    "fromPrice": change.from_price,
                    "toPrice": change.to_price,
                }
                for change in value
            ]
        elif name == "usage_limit":
            value = {"reason": value.reason, "until": value.until, "plan": value.plan_id}
        elif name == "plan_intent":
            value = {"to": value.to_plan, "idempotencyKey": value.idempotency_key, "at": value.at, "cause": value.cause}
        elif name == "spend_settings":
            value = spend_settings_entry(value)
        elif name == "alerts_sent":
            value = alerts_sent_entry(value)
        elif isinstance(value, AccountStatus):
            value = value.value
        item[attribute] = _serializer.serialize(value)
    if account.follow_up_since is not None:  # derived: the follow-up index's key, present only while it holds
        item[contract.ACCOUNTS_ATTR_FOLLOW_UP_SINCE] = {"N": str(account.follow_up_since)}
    return item


def _account(item: dict[str, Any]) -> Account:
    """Attributes of earlier versions that no field reads any more (keySyncedFor, keysRevision) are
    ignored: a row written before versions reads as version 0, its keys as not known to match."""
    values = {
        _FIELDS[attribute]: _deserializer.deserialize(value)
        for attribute, value in item.items()
        if attribute in _FIELDS
    }
    values["status"] = AccountStatus(values["status"])
    values["history"] = tuple(status_change(entry) for entry in values.get("history", ()))
    values["keys"] = tuple(key_record(entry) for entry in values.get("keys", ()))
    values["plan_changes"] = tuple(
        PlanChange(
            int(entry["at"]),
            entry.get("from"),
            entry["to"],
            entry["cause"],
            entry.get("fromPrice"),
            entry.get("toPrice"),
        )
        for entry in values.get("plan_changes", ())
    )
    if "plan_intent" in values:
        intent = values["plan_intent"]
        values["plan_intent"] = PlanIntent(intent["to"], intent["idempotencyKey"], int(intent["at"]), intent["cause"])
    if "usage_limit" in values:
        limit = values["usage_limit"]
        values["usage_limit"] = UsageLimit(limit["reason"], int(limit["until"]), limit["plan"])
    if "spend_settings" in values:
        values["spend_settings"] = spend_settings_of(values["spend_settings"])
    if "alerts_sent" in values:
        values["alerts_sent"] = alerts_sent_of(values["alerts_sent"])
    for name in _NUMBERS:
        if name in values:
            values[name] = int(values[name])
    return Account(**values)
