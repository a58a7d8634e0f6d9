"""The Accounts port (tollgate.domain.ports.Accounts): FakeAccounts and DynamoAccounts on moto answer alike.

What every writer of the account row relies on (tollgate.domain.account): a write only over the
version read, only what changed written, the version incremented; an event recorded once; every
key of an account findable; the follow-up list."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import boto3
import pytest

from testkit.fake_ports import FakeAccounts
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.domain.account import Account, AccountStatus, AppliedEvent, StatusChange
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.key_ring import KeyRecord, KeyState
from tollgate.domain.plan_state import PlanChange, PlanIntent
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.spend_control import AlertsSent, SpendSettings
from tollgate.domain.usage_limit import UsageLimit


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def accounts(request) -> Iterator[Accounts]:
    if request.param == "fake":
        yield FakeAccounts()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoAccounts(request.getfixturevalue("aws_clients").client("dynamodb"), aws.accounts_table)


_emails = iter(range(10**6))


def account(**fields) -> Account:
    """A fresh row of its own (the moto table is shared by the module's tests)."""
    email = fields.pop("email", None) or f"a{next(_emails)}@example.com"
    return Account(email=email, status=fields.pop("status", AccountStatus.PENDING), attempt_id="a1", **fields)


def test_a_row_round_trips_with_every_field(accounts):
    original = account(
        first_name="Zoë",
        last_name="Lee",
        plan_id="pro",
        price_id="price_pro",
        api_key_id="k1",
        customer_id="cus_1",
        subscription_id="sub_1",
        customer_idempotency_key="tollgate-customer-x",
        lease_expires_at=123,
        request_fingerprint="fp",
        created_at=1,
        updated_at=2,
        cut_off_reason="Card declined.",
        owes_since=7,
        last_checkout_session_id="cs_test_1",
        usage_key="usage-value",
        account_id="acct_0123456789abcdefghij",
        usage_limit=UsageLimit("quota_exceeded", 1_800_000_000, "free"),
        keys=(
            KeyRecord("k0", 1, KeyState.RETIRED, 5),
            KeyRecord("k2", 1, KeyState.ROTATING_OUT, 9, "wxyz", "ab" * 32),
            KeyRecord("k1", 2, hint="abcd", key_hash="cd" * 32, gateway_key_id="gw1"),
        ),
        pending_plan_id="team",
        plan_intent=PlanIntent("team", "tollgate-plan-x-team-v3", 8, "account page"),
        plan_changes=(
            PlanChange(3, None, "free", "account page", None, None),
            PlanChange(4, "free", "pro", "checkout", None, "price_pro"),
        ),
        history=(
            StatusChange(1, AccountStatus.PENDING, "sign-up"),
            StatusChange(2, AccountStatus.SUSPENDED, "customer.subscription.deleted", "evt_1"),
        ),
        spend_settings=SpendSettings((50, 100), (Decimal("2.5"), Decimal("10")), Decimal("12.50"), False),
        alerts_sent=AlertsSent(("quota:50@1800000000",), (("amount:2.5@1800003600", 1_800_000_100),)),
    ).with_keys_synced()

    stored = accounts.create(original)

    assert stored == replace(original, version=1) == accounts.get(original.email)
    assert accounts.get("nobody@example.com") is None


def test_a_customer_who_chose_no_alerts_reads_back_as_having_chosen_none(accounts):
    """An empty list of percentages (no quota alerts) is a choice, distinct from none made (the plan's default)."""
    stored = accounts.create(account(spend_settings=SpendSettings(quota_percents=(), no_cap=True)))
    assert accounts.get(stored.email) == stored


def test_creating_a_row_that_exists_fails(accounts):
    row = accounts.create(account())

    with pytest.raises(ConcurrentUpdate):
        accounts.create(account(email=row.email))


def test_a_write_from_an_older_version_loses_and_the_newer_one_stays(accounts):
    """Money safety II, the root: two writers read version 1; the second write loses."""
    read = accounts.create(account(status=AccountStatus.ACTIVE))
    first = accounts.update(read.with_plan_intent(PlanIntent("free", "k", 5, "account page")), read)

    with pytest.raises(ConcurrentUpdate):
        accounts.update(read.with_status(AccountStatus.SUSPENDED, 6, "invoice.payment_failed"), read)

    assert first.version == 2 and accounts.get(read.email) == first


def test_an_update_writes_only_what_it_changed(accounts):
    """Writers change only what they own: a writer's row carries nothing it did not change, so a
    diff-only update over the version read cannot undo a field it did not decide."""
    read = accounts.create(account(status=AccountStatus.ACTIVE, customer_id="cus_only", cut_off_reason="old"))

    stored = accounts.update(replace(read, cut_off_reason=None, subscription_id="sub_new"), read)

    assert (
        stored == accounts.get(read.email) == replace(read, cut_off_reason=None, subscription_id="sub_new", version=2)
    )


def test_a_row_replaced_whole_loses_the_attributes_the_new_one_has_not(accounts):
    """A sign-up taking over a failed or canceled row writes a whole new row over the version read."""
    read = accounts.create(account(status=AccountStatus.FAILED, failure_reason="why", customer_id="cus_gone"))
    fresh = Account(email=read.email, status=AccountStatus.PENDING, attempt_id="a2", lease_expires_at=99)

    stored = accounts.update(fresh, read)

    assert stored == accounts.get(read.email) == replace(fresh, version=2)
    assert accounts.find_by_customer_id("cus_gone") is None


def test_a_row_from_before_versions_is_version_0_and_written_once_from_it(accounts):
    legacy = account(status=AccountStatus.ACTIVE)
    if isinstance(accounts, FakeAccounts):
        accounts.rows[legacy.email] = legacy
    else:
        accounts._client.put_item(
            TableName=accounts._table,
            Item={
                "email": {"S": legacy.email},
                "status": {"S": "active"},
                "attemptId": {"S": "a1"},
                "keySyncedFor": {"S": "active"},
                "keysRevision": {"N": "3"},
            },
        )

    read = accounts.get(legacy.email)
    assert read.version == 0 and not read.keys_in_sync  # an old marker never says the keys match
    stored = accounts.update(read.with_status(AccountStatus.SUSPENDED, 5, "test"), read)
    with pytest.raises(ConcurrentUpdate):
        accounts.update(read.with_status(AccountStatus.CANCELED, 5, "test"), read)
    assert stored.version == 1 == accounts.get(legacy.email).version


def test_a_delete_is_conditional_on_the_version(accounts):
    read = accounts.create(account())
    newer = accounts.update(read.touched(5), read)

    with pytest.raises(ConcurrentUpdate):
        accounts.delete(read)
    accounts.delete(newer)

    assert accounts.get(read.email) is None


def test_a_deleted_row_takes_the_index_items_of_its_earlier_keys_along(accounts):
    """A row from before issue 20 whose earlier key was an API Gateway key of its own (an `api-key#` item)."""
    first, second = f"key-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex[:8]}"
    read = accounts.create(before_issue_20(account(status=AccountStatus.ACTIVE), first))
    rotated = accounts.update(before_issue_20(read, first, second), read)
    assert accounts.find_by_api_key_id(first) == rotated

    with pytest.raises(ConcurrentUpdate):
        accounts.delete(read)
    accounts.delete(rotated)

    assert accounts.get(read.email) is None and accounts.find_by_api_key_id(first) is None
    if isinstance(accounts, DynamoAccounts):  # nothing of the row is left in the table
        items = accounts._client.scan(TableName=accounts._table)["Items"]
        assert not [item for item in items if read.email in str(item)]


def test_an_event_is_applied_once_and_only_over_the_version_read(accounts):
    read = accounts.create(account(status=AccountStatus.ACTIVE))
    event = AppliedEvent(f"evt_{read.email}", remember_until=2_000_000_000)
    applied = accounts.update(
        read.with_status(AccountStatus.SUSPENDED, 10, "x").with_billing_event(event.event_id, 10), read, event
    )

    with pytest.raises(EventAlreadyApplied):
        accounts.update(applied.touched(11), applied, event)
    with pytest.raises(ConcurrentUpdate):
        accounts.update(read.touched(12), read, AppliedEvent(f"evt2_{read.email}", 2_000_000_000))
    assert accounts.get(read.email) == applied


def before_issue_20(row, *key_ids: str):
    """`row` as written before issue 20: its keys were API Gateway keys, the last one current."""
    records = tuple(KeyRecord(key_id, 1, KeyState.ROTATING_OUT, 100) for key_id in key_ids[:-1])
    return replace(row, api_key_id=key_ids[-1], keys=(*records, KeyRecord(key_ids[-1], 10)))


def test_accounts_are_found_by_each_id_and_every_key_they_record(accounts):
    row = accounts.create(
        before_issue_20(
            account(status=AccountStatus.ACTIVE, customer_id="cus_ids", subscription_id="sub_ids"), "key-first"
        )
    )
    rotated = accounts.update(before_issue_20(row, "key-first", "key-second"), row)

    for found in (
        accounts.find_by_api_key_id("key-first"),
        accounts.find_by_api_key_id("key-second"),
        accounts.find_by_customer_id("cus_ids"),
        accounts.find_by_subscription_id("sub_ids"),
    ):
        assert found == rotated
    assert accounts.find_by_api_key_id("key-none") is None


def test_an_account_is_found_by_its_account_id_the_ledgers_principal(accounts):
    account_id = f"acct_{uuid.uuid4().hex[:20]}"
    row = accounts.create(account(status=AccountStatus.ACTIVE, account_id=account_id))

    assert accounts.find_by_account_id(account_id) == row
    assert accounts.find_by_account_id(f"acct_{uuid.uuid4().hex[:20]}") is None


def test_an_earlier_key_whose_row_no_longer_records_it_finds_nothing(accounts):
    """A new sign-up after cancellation replaces the row: late usage of the old key is never billed to it."""
    row = accounts.create(before_issue_20(account(status=AccountStatus.CANCELED), "key-old"))
    rotated = accounts.update(before_issue_20(row, "key-old", "key-new"), row)
    accounts.update(before_issue_20(account(email=row.email, status=AccountStatus.ACTIVE), "key-fresh"), rotated)

    assert accounts.find_by_api_key_id("key-old") is None
    assert accounts.find_by_api_key_id("key-fresh").email == row.email


def test_rows_are_listed_by_status_and_counted(accounts):
    before = accounts.count_by_status()
    made = [
        accounts.create(account(status=status))
        for status in (AccountStatus.CANCELED, AccountStatus.FAILED, AccountStatus.ACTIVE, AccountStatus.CANCELED)
    ]

    listed = accounts.list_by_status(AccountStatus.CANCELED, AccountStatus.FAILED)

    assert {row.email for row in listed} >= {made[0].email, made[1].email, made[3].email}
    assert {row.status for row in listed} == {AccountStatus.CANCELED, AccountStatus.FAILED}
    after = accounts.count_by_status()
    assert after[AccountStatus.CANCELED] == before.get(AccountStatus.CANCELED, 0) + 2
    assert after[AccountStatus.ACTIVE] == before.get(AccountStatus.ACTIVE, 0) + 1


def test_the_follow_up_list_holds_rows_that_owe_or_wait_for_a_plan_change_and_only_while_they_do(accounts):
    owing = accounts.create(account(status=AccountStatus.SUSPENDED, owes_since=5))
    intending = accounts.create(
        account(status=AccountStatus.ACTIVE, plan_intent=PlanIntent("free", "k", 6, "account page"))
    )
    settled = accounts.create(account(status=AccountStatus.ACTIVE, owes_since=7))
    accounts.update(settled.with_debt(None), settled)

    listed = {row.email: row for row in accounts.list_to_follow_up()}

    assert owing.email in listed and intending.email in listed and settled.email not in listed
    assert listed[owing.email] == owing and listed[intending.email].follow_up_since == 6


def test_history_written_in_earlier_shapes_still_reads(aws, aws_clients):
    """Rows of earlier versions hold {status, at} (sign-up) and {at, status, event, eventId} entries."""
    boto3.client("dynamodb").put_item(
        TableName=aws.accounts_table,
        Item={
            "email": {"S": "legacy@example.com"},
            "status": {"S": "suspended"},
            "history": {
                "L": [
                    {"M": {"status": {"S": "active"}, "at": {"S": "10"}}},
                    {
                        "M": {
                            "at": {"S": "20"},
                            "status": {"S": "suspended"},
                            "event": {"S": "invoice.payment_failed"},
                            "eventId": {"S": "evt_9"},
                        }
                    },
                ]
            },
        },
    )

    assert DynamoAccounts(aws_clients.client("dynamodb"), aws.accounts_table).get("legacy@example.com").history == (
        StatusChange(10, AccountStatus.ACTIVE, "sign-up"),
        StatusChange(20, AccountStatus.SUSPENDED, "invoice.payment_failed", "evt_9"),
    )
