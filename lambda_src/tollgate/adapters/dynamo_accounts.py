"""Accounts on DynamoDB: one item per normalised email, written only with conditions, so two
invocations can never both believe they own a sign-up or both apply a billing event."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from tollgate import contract
from tollgate.adapters.aws_clients import downstream_error, error_code
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.models import (
    Account, AccountStatus, KeyRecord, KeyState, PlanChange, ReconcilerRun, StatusChange,
)
from tollgate.ports import Accounts

_SERVICE = "DynamoDB"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"  # the code inside CancellationReasons
# Bookkeeping items share the table under a key that can never be an email (no '@').
BILLING_EVENT_KEY_PREFIX = "stripe-event#"

# Account field -> item attribute. The ids double as GSI partition keys (names in contract.py).
_ATTRIBUTES = {
    "email": contract.ACCOUNTS_PARTITION_KEY,
    "status": "status",
    "first_name": "firstName",
    "last_name": "lastName",
    "plan_id": "planId",
    "api_key_id": contract.ACCOUNTS_ATTR_API_KEY_ID,
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
    "key_synced_for": "keySyncedFor",
    "cut_off_reason": "cutOffReason",
    "last_checkout_session_id": "lastCheckoutSessionId",
    "keys": "keys",
    "keys_revision": "keysRevision",
    "plan_changes": "planChanges",
    "pending_plan_id": "pendingPlanId",
}
_FIELDS = {attribute: name for name, attribute in _ATTRIBUTES.items()}
# ReconcilerRun field -> attribute of the contract.RECONCILER_LAST_RUN_KEY item (no `status`, so no
# account listing ever returns it).
_RUN_ATTRIBUTES = {"started_at": "startedAt", "finished_at": "finishedAt", "examined": "examined",
                   "repaired": "repaired", "failed": "failed", "cursor": "cursor", "stopped_by": "stoppedBy",
                   "repairs": "repairs", "repairs_at": "repairsAt"}
_RUN_COUNTS = frozenset({"started_at", "finished_at", "examined", "repaired", "failed", "repairs_at"})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# The key records are as read: rows written before records existed have no revision (0).
_KEYS_UNCHANGED = "(attribute_not_exists(#revision) OR #revision = :read)"
_KEY_INDEX_EMAIL = "accountEmail"  # the attribute of an `api-key#<id>` item naming its account


class DynamoAccounts(Accounts):
    """The accounts table through a boto3 `dynamodb` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def get(self, email: str) -> Account | None:
        item = self._call("read account", self._client.get_item, TableName=self._table, Key=_key(email),
                          ConsistentRead=True).get("Item")
        return _account(item) if item else None

    def save(
        self, account: Account, expected_status: AccountStatus | None, expected_attempt_id: str | None = None
    ) -> None:
        self._call("write account", self._client.put_item, TableName=self._table, Item=_item(account),
                   **_condition(expected_status, expected_attempt_id))

    def delete(self, email: str, expected_status: AccountStatus, expected_attempt_id: str | None = None) -> None:
        self._call("delete account", self._client.delete_item, TableName=self._table, Key=_key(email),
                   **_condition(expected_status, expected_attempt_id))

    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        """The current key through the `byApiKeyId` index; any earlier key through its index item
        (`api-key#<id>` -> email), kept only if the row still records that key."""
        current = self._find(contract.ACCOUNTS_INDEX_BY_API_KEY_ID, contract.ACCOUNTS_ATTR_API_KEY_ID, api_key_id)
        if current is not None:
            return current
        pointer = self._call("find account by key", self._client.get_item, TableName=self._table,
                             Key=_key(contract.ACCOUNTS_KEY_INDEX_PREFIX + api_key_id)).get("Item")
        account = self.get(pointer[_KEY_INDEX_EMAIL]["S"]) if pointer else None
        return account if account is not None and account.key(api_key_id) is not None else None

    def save_keys(self, account: Account, previous: Account) -> None:
        names = {"#status": "status", "#keys": _ATTRIBUTES["keys"], "#revision": _ATTRIBUTES["keys_revision"],
                 "#current": contract.ACCOUNTS_ATTR_API_KEY_ID}
        values = {":status": {"S": previous.status.value}, ":keys": _serializer.serialize(_key_records(account.key_records)),
                  ":read": {"N": str(previous.keys_revision)}, ":next": {"N": str(previous.keys_revision + 1)},
                  ":current": {"S": account.api_key_id or ""}}
        update = {"Update": {
            "TableName": self._table, "Key": _key(account.email),
            "UpdateExpression": "SET #keys = :keys, #revision = :next, #current = :current",
            "ConditionExpression": "#status = :status AND " + _KEYS_UNCHANGED,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
        earlier = {record.id for record in previous.key_records if record.id != previous.api_key_id}
        pointers = [{"Put": {"TableName": self._table, "Item": {
            **_key(contract.ACCOUNTS_KEY_INDEX_PREFIX + record.id), _KEY_INDEX_EMAIL: {"S": account.email}}}}
            for record in account.key_records if record.id != account.api_key_id and record.id not in earlier]
        try:
            self._client.transact_write_items(TransactItems=[update, *pointers])
        except ClientError as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if error_code(error) == "TransactionCanceledException" and reasons[:1] == [_TRANSACTION_CONDITION_FAILED]:
                raise ConcurrentUpdate(f"the keys of {account.email} changed meanwhile") from None
            raise downstream_error(_SERVICE, "record API keys", error) from None
        except BotoCoreError as error:
            raise downstream_error(_SERVICE, "record API keys", error) from None

    def save_plan(self, account: Account, previous: Account) -> None:
        written = _item(account)
        fields = ("plan_id", "plan_changes", "pending_plan_id", "subscription_id")
        names = {f"#{name}": _ATTRIBUTES[name] for name in (*fields, "status", "key_synced_for")}
        sets = [f"#{name} = :{name}" for name in fields if _ATTRIBUTES[name] in written]
        removes = [f"#{name}" for name in fields if _ATTRIBUTES[name] not in written] + ["#key_synced_for"]
        values = {f":{name}": written[_ATTRIBUTES[name]] for name in fields if _ATTRIBUTES[name] in written}
        conditions = ["#status = :was_status"]
        values[":was_status"] = {"S": previous.status.value}
        for name in ("plan_id", "pending_plan_id", "subscription_id"):
            before = getattr(previous, name)
            if before is None:
                conditions.append(f"attribute_not_exists(#{name})")
            else:
                conditions.append(f"#{name} = :was_{name}")
                values[f":was_{name}"] = {"S": before}
        expression = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE " + ", ".join(removes)
        try:
            self._client.update_item(TableName=self._table, Key=_key(account.email), UpdateExpression=expression,
                                     ConditionExpression=" AND ".join(conditions), ExpressionAttributeNames=names,
                                     ExpressionAttributeValues=values)
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                raise ConcurrentUpdate(f"the plan of {account.email} changed meanwhile") from None
            raise downstream_error(_SERVICE, "record the plan", error) from None
        except BotoCoreError as error:
            raise downstream_error(_SERVICE, "record the plan", error) from None

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
        items = self._scan("list accounts", FilterExpression=f"#status IN ({', '.join(values)})",
                           ExpressionAttributeNames={"#status": "status"}, ExpressionAttributeValues=values)
        return [_account(item) for item in items]

    def count_by_status(self) -> dict[AccountStatus, int]:
        """A scan of the status attribute alone (the bookkeeping items have none)."""
        counts: dict[AccountStatus, int] = {}
        for item in self._scan("count accounts", ProjectionExpression="#status", FilterExpression="attribute_exists(#status)",
                               ExpressionAttributeNames={"#status": "status"}):
            status = AccountStatus(item["status"]["S"])
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _scan(self, action: str, **parameters: Any) -> list[dict]:
        items, start = [], {}
        while True:
            page = self._call(action, self._client.scan, TableName=self._table, **parameters, **start)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def record_key_sync(self, account: Account, synced: bool) -> None:
        self._call("record key state", self._client.update_item, TableName=self._table, Key=_key(account.email),
                   UpdateExpression="SET #synced = :status" if synced else "REMOVE #synced",
                   ConditionExpression="#status = :status",
                   ExpressionAttributeNames={"#synced": _ATTRIBUTES["key_synced_for"], "#status": "status"},
                   ExpressionAttributeValues={":status": {"S": account.status.value}})

    def save_billing_event(self, account: Account, previous: Account, event_id: str, remember_until: int) -> None:
        # The key records too: a key rotated in meanwhile must follow this event's status.
        names = {"#status": "status", "#event": _ATTRIBUTES["last_billing_event_id"],
                 "#revision": _ATTRIBUTES["keys_revision"]}
        values = {":status": {"S": previous.status.value}, ":read": {"N": str(previous.keys_revision)}}
        if previous.last_billing_event_id is None:
            unchanged = "#status = :status AND attribute_not_exists(#event) AND " + _KEYS_UNCHANGED
        else:
            unchanged = "#status = :status AND #event = :event AND " + _KEYS_UNCHANGED
            values[":event"] = {"S": previous.last_billing_event_id}
        event_item = {
            contract.ACCOUNTS_PARTITION_KEY: {"S": BILLING_EVENT_KEY_PREFIX + event_id},
            contract.ACCOUNTS_TTL_ATTRIBUTE: {"N": str(remember_until)},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": _item(account), "ConditionExpression": unchanged,
                             "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
                    {"Put": {"TableName": self._table, "Item": event_item,
                             "ConditionExpression": "attribute_not_exists(#key)",
                             "ExpressionAttributeNames": {"#key": contract.ACCOUNTS_PARTITION_KEY}}},
                ]
            )
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if len(reasons) > 1 and reasons[1] == _TRANSACTION_CONDITION_FAILED:
                    raise EventAlreadyApplied(event_id) from None
                if reasons and reasons[0] == _TRANSACTION_CONDITION_FAILED:
                    raise ConcurrentUpdate(f"{account.email} changed meanwhile") from None
            raise downstream_error(_SERVICE, "record billing event", error) from None
        except BotoCoreError as error:
            raise downstream_error(_SERVICE, "record billing event", error) from None

    def last_reconciler_run(self) -> ReconcilerRun | None:
        item = self._call("read reconciler run", self._client.get_item, TableName=self._table,
                          Key=_key(contract.RECONCILER_LAST_RUN_KEY), ConsistentRead=True).get("Item")
        if not item:
            return None
        values = {name: _deserializer.deserialize(item[attribute]) for name, attribute in _RUN_ATTRIBUTES.items()
                  if attribute in item}
        if "repairs" in values:
            values["repairs"] = tuple(values["repairs"])
        return ReconcilerRun(**{name: int(value) if name in _RUN_COUNTS else value for name, value in values.items()})

    def save_reconciler_run(self, run: ReconcilerRun) -> None:
        item = {attribute: _serializer.serialize(list(value) if isinstance(value, tuple) else value)
                for name, attribute in _RUN_ATTRIBUTES.items() if (value := getattr(run, name)) is not None}
        self._call("write reconciler run", self._client.put_item, TableName=self._table,
                   Item={**_key(contract.RECONCILER_LAST_RUN_KEY), **item})

    def _find(self, index: str, attribute: str, value: str) -> Account | None:
        page = self._call("find account", self._client.query, TableName=self._table, IndexName=index,
                          KeyConditionExpression="#id = :id", ExpressionAttributeNames={"#id": attribute},
                          ExpressionAttributeValues={":id": {"S": value}}, Limit=1)
        items = page.get("Items", [])
        return _account(items[0]) if items else None

    @staticmethod
    def _call(action: str, operation: Any, **parameters: Any) -> dict:
        try:
            return operation(**parameters)
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                raise ConcurrentUpdate(f"{action}: the account changed meanwhile") from None
            raise downstream_error(_SERVICE, action, error) from None
        except BotoCoreError as error:
            raise downstream_error(_SERVICE, action, error) from None


def _key(email: str) -> dict:
    return {contract.ACCOUNTS_PARTITION_KEY: {"S": email}}


def _condition(expected_status: AccountStatus | None, expected_attempt_id: str | None) -> dict:
    if expected_status is None:
        return {
            "ConditionExpression": "attribute_not_exists(#key)",
            "ExpressionAttributeNames": {"#key": contract.ACCOUNTS_PARTITION_KEY},
        }
    expression = "#status = :status"
    names = {"#status": "status"}
    values = {":status": {"S": expected_status.value}}
    if expected_attempt_id is not None:
        expression += " AND #attempt = :attempt"
        names["#attempt"] = _ATTRIBUTES["attempt_id"]
        values[":attempt"] = {"S": expected_attempt_id}
    return {"ConditionExpression": expression, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def _item(account: Account) -> dict:
    """Unset fields are left out: an empty GSI key attribute is rejected by DynamoDB."""
    item = {}
    for name, attribute in _ATTRIBUTES.items():
        value = getattr(account, name)
        if value is None:
            continue
        if name == "history":
            value = [_history_entry(change) for change in value]
        elif name == "keys":
            if not value:
                continue  # a row without records (written before they existed) keeps none
            value = _key_records(value)
        elif name == "plan_changes":
            if not value:
                continue
            value = [{"at": change.at, "from": change.from_plan, "to": change.to_plan, "cause": change.cause}
                     for change in value]
        elif isinstance(value, AccountStatus):
            value = value.value
        item[attribute] = _serializer.serialize(value)
    return item


def _key_records(records: tuple[KeyRecord, ...]) -> list[dict]:
    return [{"id": record.id, "createdAt": record.created_at, "state": record.state.value, "until": record.until}
            for record in records]


def _history_entry(change: StatusChange) -> dict:
    return {"at": str(change.at), "status": change.status.value, "cause": change.cause, "eventId": change.event_id}


def _status_change(entry: dict) -> StatusChange:
    """Also reads the two shapes rows written before Tollgate 0.2 hold: {status, at} from
    sign-ups and {at, status, event, eventId} from billing events."""
    return StatusChange(
        at=int(entry["at"]),
        status=AccountStatus(entry["status"]),
        cause=entry.get("cause") or entry.get("event") or "sign-up",
        event_id=entry.get("eventId"),
    )


def _account(item: dict) -> Account:
    values = {_FIELDS[attribute]: _deserializer.deserialize(value) for attribute, value in item.items()
              if attribute in _FIELDS}
    values["status"] = AccountStatus(values["status"])
    if "key_synced_for" in values:
        values["key_synced_for"] = AccountStatus(values["key_synced_for"])
    values["history"] = tuple(_status_change(entry) for entry in values.get("history", ()))
    values["keys"] = tuple(KeyRecord(entry["id"], int(entry["createdAt"]), KeyState(entry["state"]),
                                     int(entry["until"]) if entry.get("until") is not None else None)
                           for entry in values.get("keys", ()))
    values["plan_changes"] = tuple(PlanChange(int(entry["at"]), entry.get("from"), entry["to"], entry["cause"])
                                   for entry in values.get("plan_changes", ()))
    for name in ("lease_expires_at", "created_at", "updated_at", "last_billing_event_at", "keys_revision"):
        if name in values:
            values[name] = int(values[name])
    return Account(**values)
