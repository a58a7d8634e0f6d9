"""`make migrate-keys` (ops/migrate_keys.py) on moto: accounts made before Tollgate-issued keys hold
API Gateway key values; after the command, the stage resolves those same values through the keys
table (MotoStack.can_call: the authorizer's rule on the item, then the usage key's), a rotating-out
key keeps its grace and its retirement, a dry run writes nothing, and a second run changes nothing."""

from __future__ import annotations

import time
import uuid

import boto3

from ops.migrate_keys import main
from testkit.commands import run_command
from testkit.lambda_events import KEY_OWNER
from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.dynamo_customer_access import DynamoCustomerAccess
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.customer_access import KeyRetirement
from tollgate.domain.key_ring import KeyRecord, KeyState


def old_key(aws, enabled: bool = True) -> tuple[str, str]:
    """An API Gateway key as Tollgate made them before issue 20, in the default plan: (id, value)."""
    apigateway = boto3.client("apigateway")
    issued = ApiGatewayKeys(apigateway, KEY_OWNER).create_key(f"tollgate-{uuid.uuid4().hex[:8]}", "")
    apigateway.create_usage_plan_key(usagePlanId=aws.usage_plan_id, keyId=issued.id, keyType="API_KEY")
    apigateway.update_api_key(
        apiKey=issued.id, patchOperations=[{"op": "replace", "path": "/enabled", "value": str(enabled).lower()}]
    )
    return issued.id, issued.value


def run(environment, *arguments: str) -> tuple[int, str]:
    return run_command(main, arguments, environ=environment)


def test_existing_clients_keep_their_keys_a_dry_run_writes_nothing_and_a_second_run_changes_nothing(
    aws, environment, accounts
):
    now = int(time.time())
    (old_id, old_value), (current_id, current_value) = old_key(aws), old_key(aws)
    rotating = f"{uuid.uuid4().hex[:8]}@example.com"
    accounts.create(
        Account(
            email=rotating,
            status=AccountStatus.ACTIVE,
            api_key_id=current_id,
            plan_id="standard",
            keys=(
                KeyRecord(old_id, now - 60, KeyState.ROTATING_OUT, until=now + 3600),
                KeyRecord(current_id, now - 30),
            ),
        )
    )
    suspended_id, suspended_value = old_key(aws, enabled=False)
    suspended = f"{uuid.uuid4().hex[:8]}@example.com"
    accounts.create(Account(email=suspended, status=AccountStatus.SUSPENDED, api_key_id=suspended_id))
    canceled = f"{uuid.uuid4().hex[:8]}@example.com"
    accounts.create(Account(email=canceled, status=AccountStatus.CANCELED, api_key_id="deleted1234"))
    access = DynamoCustomerAccess(boto3.client("dynamodb"), aws.access_table)
    access.remind_retirement(KeyRetirement(old_id, rotating, now + 3600))

    status, dry = run(environment)

    assert status == 0 and "Dry run: nothing was written" in dry and f"{current_id} -> " in dry
    assert "not in API Gateway: deleted1234" in dry
    assert boto3.client("dynamodb").scan(TableName=aws.keys_table)["Items"] == []
    assert accounts.get(rotating).account_id is None

    status, applied = run(environment, "--apply")

    assert status == 0
    assert aws.can_call(current_value) and aws.can_call(old_value)  # the same values, now through the keys table
    assert not aws.can_call(suspended_value)  # still suspended: the item says so
    row = accounts.get(rotating)
    assert row.account_id.startswith(contract.ACCOUNT_ID_PREFIX) and row.usage_key == current_value
    assert aws.usage_key_id(old_value) == current_id  # the old key's calls now count on the account's usage key
    imported = {record.gateway_key_id: record for record in row.key_records}
    assert imported[old_id].state is KeyState.ROTATING_OUT and imported[old_id].until == now + 3600
    assert imported[current_id].key_hash == key_hash(current_value)
    assert [reminder.key_id for reminder in access.due_retirements(now + 3601) if reminder.email == rotating] == [
        imported[old_id].id
    ]
    assert accounts.get(canceled).account_id  # every row gets its id, even without a key to import
    assert accounts.get(canceled).key("deleted1234").state is KeyState.RETIRED  # gone: it cannot call
    for value in (old_value, current_value, suspended_value):
        assert value not in dry + applied

    status, again = run(environment, "--apply")

    assert status == 0 and again.startswith("0 row(s) imported (0 key(s), 0 gone), 3 already done.")
    assert accounts.get(rotating).version == row.version
