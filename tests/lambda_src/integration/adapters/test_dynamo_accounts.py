"""DynamoAccounts against DynamoDB on moto: conditional writes, the GSIs, failed-row listing,
exactly-once billing events and the reconciler's last run."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from tollgate import contract
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.domain.errors import ConcurrentUpdate, EventAlreadyApplied
from tollgate.domain.account import Account, AccountStatus, KeyRecord, KeyState, PlanChange, StatusChange
from tollgate.domain.models import ReconcilerRun


@pytest.fixture
def accounts(aws) -> DynamoAccounts:
    return DynamoAccounts(AwsClients().client("dynamodb"), aws.accounts_table)


def account(email: str, **fields) -> Account:
    return Account(email=email, status=fields.pop("status", AccountStatus.PENDING), attempt_id="a1", **fields)


def test_an_account_round_trips_with_every_field(accounts):
    original = account(
        "round@example.com", first_name="Zoë", last_name="Lee", api_key_id="k1", customer_id="cus_1",
        subscription_id="sub_1", customer_idempotency_key="tollgate-customer-x", lease_expires_at=123, request_fingerprint="fp", failure_reason=None,
        created_at=1, updated_at=2, key_synced_for=AccountStatus.ACTIVE, cut_off_reason="Card declined.",
        last_checkout_session_id="cs_test_1",
        keys=(KeyRecord("k0", 1, KeyState.DELETED, 5), KeyRecord("k2", 1, KeyState.ROTATING_OUT, 9), KeyRecord("k1", 2)),
        keys_revision=3, plan_id="pro", pending_plan_id="team",
        plan_changes=(PlanChange(3, None, "free", "account page"), PlanChange(4, "free", "pro", "checkout")),
        history=(StatusChange(1, AccountStatus.PENDING, "sign-up"),
                 StatusChange(2, AccountStatus.SUSPENDED, "customer.subscription.deleted", "evt_1")),
    )
    accounts.save(original, expected_status=None)

    assert accounts.get("round@example.com") == original
    assert accounts.get("nobody@example.com") is None


def test_reserving_an_email_twice_fails(accounts):
    accounts.save(account("twice@example.com"), expected_status=None)

    with pytest.raises(ConcurrentUpdate):
        accounts.save(account("twice@example.com"), expected_status=None)


def test_writes_are_conditional_on_status_and_attempt(accounts):
    accounts.save(account("owned@example.com"), expected_status=None)

    with pytest.raises(ConcurrentUpdate):
        accounts.save(account("owned@example.com"), AccountStatus.ACTIVE)
    with pytest.raises(ConcurrentUpdate):
        accounts.save(account("owned@example.com"), AccountStatus.PENDING, expected_attempt_id="someone-else")
    with pytest.raises(ConcurrentUpdate):
        accounts.delete("owned@example.com", AccountStatus.PENDING, expected_attempt_id="someone-else")
    accounts.save(account("owned@example.com", api_key_id="k2"), AccountStatus.PENDING, expected_attempt_id="a1")
    accounts.delete("owned@example.com", AccountStatus.PENDING, expected_attempt_id="a1")

    assert accounts.get("owned@example.com") is None


def test_accounts_are_found_by_each_id(accounts):
    accounts.save(account("ids@example.com", api_key_id="key-ids", customer_id="cus_ids", subscription_id="sub_ids"),
                  expected_status=None)

    assert accounts.find_by_api_key_id("key-ids").email == "ids@example.com"
    assert accounts.find_by_customer_id("cus_ids").email == "ids@example.com"
    assert accounts.find_by_subscription_id("sub_ids").email == "ids@example.com"
    assert accounts.find_by_api_key_id("key-none") is None


def test_failed_accounts_are_listed_by_status(accounts):
    accounts.save(account("failed@example.com", status=AccountStatus.FAILED, failure_reason="why"), None)
    accounts.save(account("fine@example.com", status=AccountStatus.ACTIVE), None)

    failed = accounts.list_by_status(AccountStatus.FAILED)

    assert [(row.email, row.failure_reason) for row in failed] == [("failed@example.com", "why")]


def test_a_billing_event_is_applied_once_and_only_over_the_row_it_was_computed_from(accounts):
    before = account("billing@example.com", status=AccountStatus.ACTIVE)
    accounts.save(before, None)
    after = account("billing@example.com", status=AccountStatus.SUSPENDED, last_billing_event_id="evt_1",
                    last_billing_event_at=10)

    accounts.save_billing_event(after, before, "evt_1", remember_until=2_000_000_000)

    assert accounts.get("billing@example.com").status is AccountStatus.SUSPENDED
    with pytest.raises(EventAlreadyApplied):
        accounts.save_billing_event(after, before, "evt_1", remember_until=2_000_000_000)
    with pytest.raises(ConcurrentUpdate):
        accounts.save_billing_event(after, before, "evt_2", remember_until=2_000_000_000)
    assert accounts.list_by_status(AccountStatus.SUSPENDED)[0].last_billing_event_id == "evt_1"


def test_the_key_state_is_recorded_only_while_the_row_keeps_that_status(accounts):
    row = account("synced@example.com", status=AccountStatus.ACTIVE, customer_id="cus_synced", first_name="Ann")
    accounts.save(row, None)

    accounts.record_key_sync(row, synced=True)

    stored = accounts.get("synced@example.com")
    assert stored.key_in_sync and stored == replace(row).with_keys_synced()  # nothing else written
    with pytest.raises(ConcurrentUpdate):
        accounts.record_key_sync(row.with_status(AccountStatus.SUSPENDED, 5, "customer.subscription.deleted"), False)
    assert accounts.get("synced@example.com").key_in_sync
    accounts.record_key_sync(row, synced=False)
    assert accounts.get("synced@example.com") == row


def test_history_written_before_one_entry_shape_still_reads(accounts, aws):
    """Rows of earlier versions hold {status, at} (sign-up) and {at, status, event, eventId} entries."""
    boto3.client("dynamodb").put_item(TableName=aws.accounts_table, Item={
        "email": {"S": "legacy@example.com"}, "status": {"S": "suspended"},
        "history": {"L": [
            {"M": {"status": {"S": "active"}, "at": {"S": "10"}}},
            {"M": {"at": {"S": "20"}, "status": {"S": "suspended"}, "event": {"S": "invoice.payment_failed"},
                   "eventId": {"S": "evt_9"}}},
        ]},
    })

    assert accounts.get("legacy@example.com").history == (
        StatusChange(10, AccountStatus.ACTIVE, "sign-up"),
        StatusChange(20, AccountStatus.SUSPENDED, "invoice.payment_failed", "evt_9"),
    )


def test_the_reconcilers_last_run_is_kept_and_is_never_listed_as_an_account(accounts):
    assert accounts.last_reconciler_run() is None
    interrupted = ReconcilerRun(started_at=10, finished_at=250, examined=1200, repaired=3, failed=1,
                                cursor="sub_123", stopped_by="time budget",
                                repairs=("sub_1 -> canceled", "sub_2 -> active", "sub_3 -> past_due"), repairs_at=200)
    finished = ReconcilerRun(started_at=900, finished_at=905, examined=40, repaired=0, failed=0)

    accounts.save_reconciler_run(interrupted)
    assert accounts.last_reconciler_run() == interrupted
    accounts.save_reconciler_run(finished)

    assert accounts.last_reconciler_run() == finished and finished.complete
    listed = [row.email for status in AccountStatus for row in accounts.list_by_status(status)]
    assert contract.RECONCILER_LAST_RUN_KEY not in listed


def test_accounts_are_listed_in_any_of_several_statuses_and_counted_by_status(aws):
    accounts = DynamoAccounts(AwsClients().client("dynamodb"), aws.accounts_table)
    for email, status in (("l1@example.com", AccountStatus.CANCELED), ("l2@example.com", AccountStatus.FAILED),
                          ("l3@example.com", AccountStatus.ACTIVE), ("l4@example.com", AccountStatus.CANCELED)):
        accounts.save(account(email, status=status), expected_status=None)
    accounts.save_reconciler_run(ReconcilerRun(started_at=1, finished_at=2, examined=0, repaired=0, failed=0))
    before = accounts.count_by_status()

    listed = accounts.list_by_status(AccountStatus.CANCELED, AccountStatus.FAILED)

    assert {row.email for row in listed} >= {"l1@example.com", "l2@example.com", "l4@example.com"}
    assert {row.status for row in listed} == {AccountStatus.CANCELED, AccountStatus.FAILED}
    accounts.save(account("l5@example.com", status=AccountStatus.ACTIVE), expected_status=None)
    after = accounts.count_by_status()
    assert after[AccountStatus.ACTIVE] == before[AccountStatus.ACTIVE] + 1
    assert sum(after.values()) == len(boto3.client("dynamodb").scan(
        TableName=aws.accounts_table, FilterExpression="contains(email, :at)",
        ExpressionAttributeValues={":at": {"S": "@"}})["Items"])  # accounts only: no bookkeeping item counted


def test_every_key_of_an_account_finds_it_and_the_key_records_guard_other_writes(accounts):
    """save_keys on DynamoDB: the records and current key id in one conditional transaction with the
    index items of the earlier keys; a billing event written from an older view of the keys loses."""
    row = account("keys@example.com", status=AccountStatus.ACTIVE).with_api_key("key-first")
    accounts.save(row, expected_status=None)
    rotated = row.with_rotated_key("key-second", at=10, grace_until=100)
    accounts.save_keys(rotated, row)

    stored = accounts.get("keys@example.com")
    assert (stored.api_key_id, stored.keys_revision) == ("key-second", 1)
    assert [(r.id, r.state, r.until) for r in stored.key_records] == [
        ("key-first", KeyState.ROTATING_OUT, 100), ("key-second", KeyState.ACTIVE, None)]
    assert accounts.find_by_api_key_id("key-first").email == "keys@example.com"
    assert accounts.find_by_api_key_id("key-second").email == "keys@example.com"
    with pytest.raises(ConcurrentUpdate):
        accounts.save_keys(rotated, row)  # from the view before the rotation
    with pytest.raises(ConcurrentUpdate):
        accounts.save_billing_event(replace(row, status=AccountStatus.SUSPENDED), row, "evt_keys", 10**10)

    accounts.save_billing_event(replace(stored, status=AccountStatus.SUSPENDED), stored, "evt_keys", 10**10)
    assert accounts.get("keys@example.com").key_records == stored.key_records


def test_an_earlier_key_whose_account_no_longer_records_it_finds_nothing(accounts):
    row = account("again@example.com", status=AccountStatus.ACTIVE).with_api_key("key-old")
    accounts.save(row, expected_status=None)
    accounts.save_keys(row.with_rotated_key("key-new", at=10, grace_until=100), row)
    # A new sign-up after cancellation replaces the row: the old key's index item now points at a
    # row that does not record it, so late usage of the old key is never billed to the new account.
    accounts.save(account("again@example.com", status=AccountStatus.ACTIVE).with_api_key("key-fresh"),
                  AccountStatus.ACTIVE)
    assert accounts.find_by_api_key_id("key-old") is None
    assert accounts.find_by_api_key_id("key-fresh").email == "again@example.com"


def test_a_plan_change_writes_only_the_plan_and_only_over_the_plan_it_was_computed_from(accounts):
    """Issue 13: the plan, its history, a pending change and a new subscription, never the keys a
    rotation wrote meanwhile; the key no longer counts as matching (it moves to the new usage plan)."""
    active = account("plan@example.com", status=AccountStatus.ACTIVE, api_key_id="k1", customer_id="cus_1",
                     plan_id="free").with_keys_synced()
    accounts.save(active, expected_status=None)
    accounts.save_keys(active.with_rotated_key("k2", 5, 100), active)  # a rotation meanwhile

    upgraded = active.with_plan("pro", 6, "account page").with_subscription("sub_9")
    accounts.save_plan(upgraded, active)

    stored = accounts.get("plan@example.com")
    assert (stored.plan_id, stored.subscription_id, stored.plan_changes) == ("pro", "sub_9", upgraded.plan_changes)
    assert stored.api_key_id == "k2" and stored.key_synced_for is None
    assert accounts.find_by_subscription_id("sub_9") == stored
    with pytest.raises(ConcurrentUpdate):
        accounts.save_plan(active.with_pending_plan("team"), active)  # computed from the free plan: stale
    accounts.save_plan(stored.with_pending_plan("team"), stored)
    assert accounts.get("plan@example.com").pending_plan_id == "team"
