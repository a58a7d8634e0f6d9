"""Issue 10: `make usage-report` (ops/usage_report.py) on fakes: per customer, API Gateway's count,
the ledger's, the billable calls and Stripe's units, the differences, and the exit code against
--threshold. (On the real path, against make dev: tests/localdev/test_lifecycle_e2e.py.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ops.usage_report import main
from testkit.commands import run_command
from testkit.fake_metering import call_record as record_of_call
from testkit.fake_metering import ledger_bytes
from testkit.fake_ports import TEST_PLANS, FakeKeyPools
from testkit.lambda_events import FUNCTION_ENVIRONMENT
from testkit.metering_on_fakes import MeteringOnFakes, usage_environment
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.models import IssuedKey
from tollgate.domain.usage import BatchSummary, MeterReport
from tollgate.wiring import Wiring

# A fixed noon UTC, the command's clock and every call's time unless a test says otherwise: nothing
# here reads the real clock, so a run across midnight (or at 00:30, "an hour ago" on another day)
# reports the same day it wrote.
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC).timestamp()
TODAY = datetime.fromtimestamp(NOW, UTC).date()


def call_record(api_key_id: str | None, **options: Any) -> str:
    """testkit's call_record, made at NOW unless `at_ms` says when."""
    return record_of_call(api_key_id, **{"at_ms": int(NOW * 1000), **options})


class FakeUsagePlanUsage:
    def __init__(self, calls: dict[str, int]):
        self.calls = calls
        self.asked: list[tuple[date, date]] = []

    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        self.asked.append((first_day, last_day))
        return dict(self.calls)


@pytest.fixture
def metering(monkeypatch) -> MeteringOnFakes:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    fakes = MeteringOnFakes.create()
    fakes.add_customer("key-ada", "cus_ada")
    fakes.add_customer("key-bob", "cus_bob")
    return fakes


def report(
    metering: MeteringOnFakes, gateway: dict[str, int], *argv: str, pools: FakeKeyPools | None = None
) -> tuple[int, str, FakeUsagePlanUsage]:
    plan_usage = FakeUsagePlanUsage(gateway)

    def wiring(config):
        return Wiring(
            config,
            accounts=metering.accounts,
            usage_ledger=metering.ledger,
            usage_meter=metering.meter,
            usage_reports=metering.reports,
            usage_plan_usage=plan_usage,
            key_pools=pools or FakeKeyPools(),
        )

    status, output = run_command(
        main, argv, environ=usage_environment(FUNCTION_ENVIRONMENT), clock=lambda: NOW, wiring=wiring
    )
    return status, output, plan_usage


def rows(output: str) -> dict[str, list[str]]:
    return {
        line.split()[0]: line.split()[1:] for line in output.splitlines() if line.startswith(("cus_", "(no", "(pool"))
    }


def reported(metering: MeteringOnFakes, customer_id: str, units: int) -> None:
    metering.meter.events.append(
        MeterReport(f"id-{customer_id}-{units}", customer_id, units, int(NOW), None, "price_1")
    )


def test_matching_counts_report_no_difference_and_exit_0(metering):
    source = metering.ledger.put(
        ledger_bytes([call_record("key-ada") for _ in range(3)] + [call_record("key-ada", status=500)]), at=NOW
    )
    metering.reports.summaries[source] = BatchSummary(source, 4, 0, 3, 1)
    reported(metering, "cus_ada", 3)

    status, output, plan_usage = report(metering, {"key-ada": 4})

    assert status == 0, output
    assert rows(output) == {"cus_ada": ["key-ada", "4", "4", "0", "3", "3", "0", "0"]}
    assert plan_usage.asked == [(TODAY, TODAY)]
    assert "Ledger objects in the period: 1 (1 fully reported by the usage reporter)" in output


def test_units_missing_in_stripe_or_records_missing_in_the_ledger_exit_1_past_the_threshold(metering):
    metering.ledger.put(ledger_bytes([call_record("key-ada") for _ in range(5)] + [call_record("key-bob")]), at=NOW)
    reported(metering, "cus_ada", 3)
    reported(metering, "cus_bob", 1)

    status, output, _ = report(metering, {"key-ada": 5, "key-bob": 2})
    tolerant, _, _ = report(metering, {"key-ada": 5, "key-bob": 2}, "--threshold", "2")

    assert status == 1 and tolerant == 0
    assert rows(output) == {
        "cus_ada": ["key-ada", "5", "5", "0", "5", "3", "0", "2"],
        "cus_bob": ["key-bob", "2", "1", "0", "1", "1", "1", "0"],
    }
    assert "2 row(s) differ by more than 0." in output
    assert "1 not yet" in output  # no summary: the reporter has not finished that object


def test_calls_outside_the_period_and_keys_no_account_owns_are_told_apart(metering):
    yesterday = NOW - 86400
    metering.ledger.put(ledger_bytes([call_record("key-ada", at_ms=int(yesterday * 1000))]), at=yesterday)
    source = metering.ledger.put(ledger_bytes([call_record("key-gone"), call_record("key-gone")]), at=NOW)
    metering.reports.summaries[source] = BatchSummary(source, 2, 0, 2, 0, {"key-gone": 2})

    status, output, _ = report(metering, {"key-gone": 2})

    assert status == 0
    assert rows(output) == {"(no": ["account)", "key-gone", "2", "2", "0", "2", "-", "0", "-"]}
    assert "kept in the ledger, not billed): key-gone 2" in output


def test_a_customer_who_made_paid_calls_then_moved_to_free_is_compared_with_stripe_on_the_paid_calls(metering):
    """Issue 18: Ada made 3 calls on Standard, moved to Free, made 2 more (not billed). Her row counts
    the 3 as billable and asks Stripe, whatever her plan is now; Bob, free all along, has nothing billed."""
    ada = metering.accounts.rows["key-ada@example.com"]
    metering.accounts.rows[ada.email] = ada.with_plan(TEST_PLANS.get("free"), int(NOW) - 1800, "account page")
    bob = metering.accounts.rows["key-bob@example.com"]
    metering.accounts.rows[bob.email] = replace(bob, plan_id="free")
    metering.ledger.put(
        ledger_bytes(
            [call_record("key-ada", at_ms=int((NOW - 3600) * 1000)) for _ in range(3)]
            + [call_record(key, at_ms=int((NOW - 600) * 1000)) for key in ("key-ada", "key-ada", "key-bob", "key-bob")]
        ),
        at=NOW,
    )
    days = ("--from", str(TODAY - timedelta(days=1)), "--to", str(TODAY))
    reported(metering, "cus_ada", 1)

    missing, output, _ = report(metering, {"key-ada": 5, "key-bob": 2}, *days)

    assert missing == 1 and rows(output)["cus_ada"] == [
        "key-ada",
        "5",
        "5",
        "0",
        "3",
        "1",
        "0",
        "2",
    ]  # 2 paid calls lost
    reported(metering, "cus_ada", 2)
    status, output, _ = report(metering, {"key-ada": 5, "key-bob": 2}, *days)
    assert status == 0, output
    assert rows(output) == {
        "cus_ada": ["key-ada", "5", "5", "0", "3", "3", "0", "0"],
        "cus_bob": ["key-bob", "2", "2", "0", "0", "-", "0", "-"],
    }


def test_a_period_that_ends_before_it_starts_is_refused(metering):
    status, _, _ = report(metering, {}, "--from", "2026-12-02", "--to", "2026-12-01")

    assert status == 2


def test_pooled_free_customers_are_compared_on_their_pools_row_and_a_paid_one_on_its_own_key(metering):
    """API Gateway counts a pool's shared key for every account of its shard: Cleo's and Dan's calls
    (free, pooled) are their rows' `pooled` and are compared with the pool's keys on the pool's row;
    Ada's (paid, her own key) on her row as before. A lost record of a pooled call shows on the pool's row."""
    pools = FakeKeyPools()
    for shard in (0, 1):
        pools.record_shard("free", shard, IssuedKey(f"pool-free-{shard}", f"pool-value-{shard}"))
    metering.add_customer("key-ada", "cus_ada", account_id="acct_ada", plan_id="standard")
    for name, shard in (("cleo", 0), ("dan", 1)):
        metering.accounts.rows[f"{name}@example.com"] = Account(
            email=f"{name}@example.com",
            status=AccountStatus.ACTIVE,
            customer_id=f"cus_{name}",
            account_id=f"acct_{name}",
            plan_id="free",
            pool_key_id=f"pool-free-{shard}",
            usage_key=f"pool-value-{shard}",
        )
    metering.ledger.put(
        ledger_bytes(
            [call_record("key-ada", account_id="acct_ada") for _ in range(2)]
            + [call_record("pool-free-0", account_id="acct_cleo") for _ in range(3)]
            + [call_record("pool-free-1", account_id="acct_dan") for _ in range(2)]
        ),
        at=NOW,
    )
    reported(metering, "cus_ada", 2)

    status, output, _ = report(metering, {"key-ada": 2, "pool-free-0": 3, "pool-free-1": 2}, pools=pools)
    lost, lost_output, _ = report(metering, {"key-ada": 2, "pool-free-0": 3, "pool-free-1": 3}, pools=pools)

    assert status == 0, output
    assert rows(output) == {
        "cus_ada": ["acct_ada,key-ada", "2", "2", "0", "2", "2", "0", "0"],
        "cus_cleo": ["acct_cleo", "0", "3", "3", "0", "-", "0", "-"],
        "cus_dan": ["acct_dan", "0", "2", "2", "0", "-", "0", "-"],
        "(pool": ["free)", "2", "shared", "keys", "5", "5", "0", "0", "-", "0", "-"],
    }
    assert lost == 1 and rows(lost_output)["(pool"] == [
        "free)",
        "2",
        "shared",
        "keys",
        "6",
        "5",
        "0",
        "0",
        "-",
        "1",
        "-",
    ]
