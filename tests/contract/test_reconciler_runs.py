"""The ReconcilerRuns port: FakeReconcilerRuns and DynamoReconcilerRuns on moto answer alike; on
DynamoDB the run record shares the accounts table and is never taken for an account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.fake_ports import FakeReconcilerRuns
from tollgate import contract
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_reconciler_runs import DynamoReconcilerRuns
from tollgate.domain.account import AccountStatus
from tollgate.domain.models import ReconcilerRun
from tollgate.domain.ports.reconciler_runs import ReconcilerRuns

INTERRUPTED = ReconcilerRun(
    started_at=10,
    finished_at=250,
    examined=1200,
    repaired=3,
    failed=1,
    cursor="sub_123",
    stopped_by="time budget",
    orphans_canceled=2,
    repairs=("sub_1 -> canceled", "sub_2 -> active"),
    repairs_at=200,
)
FINISHED = ReconcilerRun(started_at=900, finished_at=905, examined=40, repaired=0, failed=0)


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def runs(request) -> Iterator[ReconcilerRuns]:
    if request.param == "fake":
        yield FakeReconcilerRuns()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoReconcilerRuns(request.getfixturevalue("aws_clients").client("dynamodb"), aws.accounts_table)


def test_the_last_run_is_kept_whole_and_replaced_by_the_next(runs):
    runs.save(INTERRUPTED)
    assert runs.last() == INTERRUPTED

    runs.save(FINISHED)

    assert runs.last() == FINISHED and FINISHED.complete and not INTERRUPTED.complete


def test_on_dynamodb_the_run_record_is_never_listed_nor_counted_as_an_account(aws, aws_clients):
    table = aws_clients.client("dynamodb"), aws.accounts_table
    accounts = DynamoAccounts(*table)
    before = accounts.count_by_status()

    DynamoReconcilerRuns(*table).save(INTERRUPTED)

    listed = [row.email for status in AccountStatus for row in accounts.list_by_status(status)]
    assert contract.RECONCILER_LAST_RUN_KEY not in listed and accounts.count_by_status() == before
