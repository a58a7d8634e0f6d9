"""Issue 14: what the two scheduled functions publish, through their deployed handlers on fakes: the
reconciler's heartbeat and repairs, the housekeeping's key count (its heartbeat too), failed rows
and deleted keys."""

from __future__ import annotations

import time

import pytest

from testkit.fake_ports import TEST_PLANS, FakePorts
from testkit.fake_wiring import deployed_on_fakes
from testkit.lambda_events import ScheduledInvocation
from tollgate import contract
from tollgate.domain.account import Account, AccountStatus, StatusChange
from tollgate.domain.housekeeping import DAY_SECONDS


@pytest.fixture
def ports() -> FakePorts:
    return FakePorts.create()


def run_housekeeping(ports: FakePorts) -> dict:
    function = deployed_on_fakes("tollgate.handlers.housekeeping", ports)
    return function.handler({}, ScheduledInvocation(contract.HOUSEKEEPING_TIMEOUT_SECONDS))


def run_reconciler(ports: FakePorts) -> dict:
    function = deployed_on_fakes("tollgate.handlers.reconciler", ports)
    return function.handler({}, ScheduledInvocation(contract.RECONCILER_TIMEOUT_SECONDS))


def counted(ports: FakePorts) -> dict[str, float]:
    return {name: ports.metrics.total(name) for name in sorted(ports.metrics.names())}


def canceled_long_ago(ports: FakePorts, email: str) -> Account:
    key = ports.api_keys.create_key(f"tollgate-{email}", "d")
    canceled_at = int(time.time()) - (contract.DEFAULT_CANCELED_KEY_RETENTION_DAYS + 1) * DAY_SECONDS
    account = Account(
        email=email,
        status=AccountStatus.CANCELED,
        api_key_id=key.id,
        updated_at=canceled_at,
        history=(StatusChange(canceled_at, AccountStatus.CANCELED, "customer.subscription.deleted"),),
    )
    ports.accounts.rows[email] = account
    return account


def test_the_housekeeping_publishes_the_key_count_failed_rows_and_deleted_keys(ports):
    gone = canceled_long_ago(ports, "gone@example.com")
    ports.api_keys.create_key("tollgate-live", "a live customer's key")
    ports.api_keys.other_keys_in_region = 40
    ports.accounts.rows["failed@example.com"] = Account(email="failed@example.com", status=AccountStatus.FAILED)

    summary = run_housekeeping(ports)

    assert gone.api_key_id not in ports.api_keys.keys
    assert counted(ports) == {
        contract.METRIC_API_KEYS_IN_REGION: 41,
        contract.METRIC_FAILED_ACCOUNTS: 1,
        contract.METRIC_KEYS_DELETED: 1,
    }
    assert summary["keysInRegion"] == 41 and summary["quota"] == contract.API_KEYS_PER_REGION


def test_an_idle_housekeeping_run_still_publishes_the_key_count(ports):
    run_housekeeping(ports)

    assert ports.metrics.recorded == [
        (contract.METRIC_API_KEYS_IN_REGION, 0),
        (contract.METRIC_FAILED_ACCOUNTS, 0),
        (contract.METRIC_KEYS_DELETED, 0),
        (contract.METRIC_KEY_DELETIONS_FAILED, 0),
    ]


def test_a_housekeeping_run_that_cannot_count_the_keys_skips_its_heartbeat(ports):
    canceled_long_ago(ports, "gone@example.com")
    ports.api_keys.fail("delete_key")
    ports.api_keys.fail("count_in_region")

    run_housekeeping(ports)

    assert counted(ports) == {contract.METRIC_KEY_DELETIONS_FAILED: 1}  # no ApiKeysInRegion: the alarm will tell


def test_a_reconciler_run_beats_the_heartbeat_and_counts_its_repairs(ports):
    key = ports.api_keys.create_key("tollgate-ann", "d")
    ports.api_keys.attach_to_plan(key.id, TEST_PLANS.default.usage_plan_id)
    ports.billing.put_subscription("sub_ann", "cus_ann", "canceled")  # the webhook was lost
    ports.accounts.rows["ann@example.com"] = Account(
        email="ann@example.com",
        status=AccountStatus.ACTIVE,
        api_key_id=key.id,
        customer_id="cus_ann",
        subscription_id="sub_ann",
    ).with_keys_synced()

    run_reconciler(ports)

    assert counted(ports) == {
        contract.METRIC_ACCOUNTS_REPAIRED: 1,
        contract.METRIC_KEYS_DISABLED: 1,
        contract.METRIC_RECONCILER_RUNS_SUCCEEDED: 1,
        contract.METRIC_SUBSCRIPTIONS_EXAMINED: 1,
    }


def test_a_reconciler_run_stopped_by_a_failing_service_is_no_heartbeat(ports):
    ports.billing.fail("list_subscriptions")

    run_reconciler(ports)

    assert counted(ports) == {contract.METRIC_RECONCILER_RUNS_INCOMPLETE: 1}
