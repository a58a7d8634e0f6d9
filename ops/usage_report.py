"""Does every call API Gateway counted reach the invoice? Per customer, over whole UTC days:

  gateway   calls the usage plan counted for the customer's own gateway key(s) (API Gateway's GetUsage)
  ledger    calls the usage ledger holds for them (access-log records on the metered routes)
  pooled    those of them made through a free plan's shared pool key (tollgate.domain.key_pools)
  billable  those of them billed: a status `billable_statuses` bills, made on a paid plan
  stripe    units the Stripe meter aggregated for the customer (meter event summaries)

and two differences: gateway - ledger (calls whose records the ledger lacks: lost, or not written
yet, Firehose buffers 60 s; over the calls made through the row's own keys, so less `pooled`) and
billable - stripe (units not reported yet, or, negative, reported too many). A row's ids are its
gateway keys and the account id the ledger's records name (records from before the key authorizer
name the key: tollgate.domain.metering.account_of_caller). Each pool has a row of its own: API
Gateway counts a shared key for all of its shard's accounts, so the pool's row compares its keys'
count with the ledger's calls through them (the customers' `pooled`). Calls of keys no account owns
are listed apart: they are never billed. The ledger is read with the reporter's own code
(tollgate.domain.usage), so both count alike, and each call counts on the plan its account was on
when it was made (`Account.plan_at`, as the reporter bills it), whatever the plan is now: a customer
who made paid calls and then moved to a free plan (or was canceled) is compared with Stripe like any
other. Only a customer on a free plan whose every call in the period was made on a free plan has
nothing to compare ("-"). It exits 1 when a difference passes --threshold, 2 when it cannot run.
Calls take up to 5 minutes to reach Stripe: report on a period that ended a few minutes ago.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, connect
from tollgate.config import RuntimeConfig
from tollgate.domain.account import Account
from tollgate.domain.errors import TollgateError
from tollgate.domain.metering import account_of_caller, price_billed
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.keys import KeyPools
from tollgate.domain.usage import CallerUsage, LedgerUsage, read_ledger
from tollgate.plans import PlanCatalog, UnknownPlan
from tollgate.wiring import Wiring

EXIT_DIFFERENCE, EXIT_FAILED = 1, 2


@dataclass
class UsageRow:
    """One customer (or, `customer_id` None, the keys no account owns) over the period."""

    customer_id: str | None
    key_ids: list[str] = field(default_factory=list)  # its gateway keys and ledger callers (`ids`)
    gateway: int = 0
    ledger: int = 0
    pooled: int = 0  # of the ledger's calls, those made through a pool's shared key (its pool's row counts them)
    billable: int = 0
    stripe: float | None = None  # None: no customer to ask Stripe about, or nothing billed (free plans only)
    pool: str | None = None  # a pool's row: the plan whose shared keys it counts

    @property
    def gateway_gap(self) -> int:
        """API Gateway's count of the row's keys less the ledger's calls through them."""
        return self.gateway - (self.ledger - self.pooled)

    @property
    def name(self) -> str:
        return f"(pool {self.pool})" if self.pool else self.customer_id or "(no account)"

    @property
    def ids(self) -> str:
        return f"{len(self.key_ids)} shared keys" if self.pool else ",".join(self.key_ids)

    @property
    def stripe_gap(self) -> float | None:
        return None if self.stripe is None else self.billable - self.stripe

    def beyond(self, threshold: float) -> bool:
        return abs(self.gateway_gap) > threshold or (self.stripe_gap is not None and abs(self.stripe_gap) > threshold)


def reconcile(
    gateway: Mapping[str, int],
    ledger: LedgerUsage,
    customer_of: Callable[[str], str | None],
    units_of: Callable[[str], float | None],
    pool_of: Mapping[str, str] | None = None,
) -> list[UsageRow]:
    """Rows per customer (gateway keys and ledger callers grouped by the account that owns them), then
    one per pool (`pool_of`: shared key id -> its plan), the unowned ones last."""
    pool_of = pool_of or {}
    rows: dict[str | None, UsageRow] = {}
    pools: dict[str, UsageRow] = {}

    def customer_row(caller: str) -> UsageRow:
        customer_id = customer_of(caller)
        return rows.setdefault(customer_id, UsageRow(customer_id))

    def pool_row(key_id: str) -> UsageRow:
        return pools.setdefault(pool_of[key_id], UsageRow(None, pool=pool_of[key_id]))

    for key_id, calls in gateway.items():
        row = pool_row(key_id) if key_id in pool_of else customer_row(key_id)
        row.key_ids.append(key_id)
        row.gateway += calls
    for caller, usage in ledger.by_caller.items():
        row = customer_row(caller)
        if caller not in row.key_ids:
            row.key_ids.append(caller)
        row.ledger += usage.calls
        row.billable += usage.billable
        for key_id, calls in usage.calls_by_key.items():
            if key_id in pool_of:
                row.pooled += calls
                pool_row(key_id).ledger += calls
    for customer_id, row in rows.items():
        row.key_ids.sort()
        if customer_id is not None:
            row.stripe = units_of(customer_id)
    unowned = rows.pop(None, None)
    customers = sorted(rows.values(), key=lambda row: row.customer_id or "")
    return customers + [pools[plan_id] for plan_id in sorted(pools)] + ([unowned] if unowned else [])


class BilledCustomers:
    """The account of each key in the report (looked up once) and what it was billed for: a call
    counts on the plan its account was on when it was made (`Account.plan_at`, priced by the
    reporter's own `price_billed`), whatever the plan is now."""

    def __init__(self, accounts: Accounts, plans: PlanCatalog) -> None:
        self._accounts = accounts
        self._plans = plans
        self._by_key: dict[str, Account | None] = {}
        self._billed: set[str] = set()  # customers with a call on a paid plan in the period, or on one now

    def account_of(self, key_id: str) -> Account | None:
        if key_id not in self._by_key:
            account = self._by_key[key_id] = account_of_caller(self._accounts, key_id)
            if account and account.customer_id and not self._plans.get(account.plan_id).is_free:
                self._billed.add(account.customer_id)
        return self._by_key[key_id]

    def customer_of(self, key_id: str) -> str | None:
        account = self.account_of(key_id)
        return account.customer_id if account else None

    def billed(self, key_id: str, at_ms: int) -> bool:
        """Whether the key's billable call made at `at_ms` was billed; keys no account owns count as
        billable, in a row of their own (their calls are never billed)."""
        account = self.account_of(key_id)
        if account is None or account.customer_id is None:
            return True
        try:
            if price_billed(account.plan_at(at_ms / 1000), self._plans) is None:
                return False  # made on a free plan
        except UnknownPlan:
            return False  # no price known for it: the reporter leaves it unbilled, with the keys no account owns
        self._billed.add(account.customer_id)
        return True

    def billed_anything(self, customer_id: str) -> bool:
        """Whether Stripe should hold anything for the customer: nothing for one on a free plan whose
        every call was made on a free plan."""
        return customer_id in self._billed


def add_billed(totals: LedgerUsage, usage: LedgerUsage, billed: Callable[[str, int], bool]) -> None:
    """Add one object's `usage` (read with call times) to `totals`, counting as billable only the
    billable calls `billed(key id, call time in ms)` says were made on a paid plan."""
    totals.records += usage.records
    totals.malformed += usage.malformed
    for caller, caller_usage in usage.by_caller.items():
        total = totals.by_caller.setdefault(caller, CallerUsage())
        total.calls += caller_usage.calls
        total.calls_by_key.update(caller_usage.calls_by_key)
        total.billable += sum(1 for call in caller_usage.billable_calls if billed(caller, call.at_ms))


def pool_keys(pools: KeyPools, plans: PlanCatalog) -> dict[str, str]:
    """Every recorded shared key (id -> its plan), whatever the plan's pool size is now: a shard dropped
    by a smaller `free_pool_size` still answers the accounts that were on it."""
    return {key.id: plan.id for plan in plans if (pool := pools.get(plan.id)) for key in pool.shards.values()}


def render(rows: list[UsageRow]) -> list[str]:
    header = (
        "customer",
        "ids",
        "gateway",
        "ledger",
        "pooled",
        "billable",
        "stripe",
        "gateway-ledger",
        "billable-stripe",
    )
    table = [header] + [
        (
            row.name,
            row.ids,
            str(row.gateway),
            str(row.ledger),
            str(row.pooled),
            str(row.billable),
            _number(row.stripe),
            str(row.gateway_gap),
            _number(row.stripe_gap),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in table
    ]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
    wiring: Callable[[RuntimeConfig], Wiring] = Wiring,
) -> int:
    today = datetime.fromtimestamp(clock(), UTC).date()
    arguments = _parser(today).parse_args(argv)
    if arguments.to < arguments.since:
        print(f"error: --to {arguments.to} is before --from {arguments.since}", file=sys.stderr)
        return EXIT_FAILED
    try:
        deployment = connect(arguments, environ)
        wired = wiring(deployment.config)
        statuses = deployment.config.require_usage().billable_statuses
        start = int(datetime.combine(arguments.since, datetime.min.time(), UTC).timestamp())
        end = int(datetime.combine(arguments.to + timedelta(days=1), datetime.min.time(), UTC).timestamp())
        plans = deployment.config.plans
        customers = BilledCustomers(wired.accounts, plans)

        def units_of(customer_id: str) -> float | None:
            """What the meters of every plan's price have for the customer (each price has its own meter)."""
            if not customers.billed_anything(customer_id):
                return None
            return sum(
                wired.usage_meter.reported_units(customer_id, price_id, start, end)
                for price_id in dict.fromkeys(plans.price_ids)
            )

        ledger, objects, reported = LedgerUsage(keep_calls=False), 0, 0
        unknown: dict[str, int] = {}
        for source in wired.usage_ledger.objects_between(start, end):
            add_billed(
                ledger,
                read_ledger(wired.usage_ledger.read(source), statuses, start * 1000, end * 1000),
                customers.billed,
            )
            objects += 1
            summary = wired.usage_reports.summary(source)
            if summary is not None:
                reported += 1
                for key_id, calls in summary.unknown_keys.items():
                    unknown[key_id] = unknown.get(key_id, 0) + calls

        rows = reconcile(
            wired.usage_plan_usage.calls_by_key(arguments.since, arguments.to),
            ledger,
            customers.customer_of,
            units_of,
            pool_keys(wired.key_pools, plans),
        )
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Usage from {arguments.since} to {arguments.to} (UTC days, both included):", file=out)
    for line in render(rows) if rows else ["No calls in the period."]:
        print(line, file=out)
    print(
        f"Ledger objects in the period: {objects} ({reported} fully reported by the usage reporter"
        f"{f', {objects - reported} not yet' if objects - reported else ''}); malformed records: {ledger.malformed}.",
        file=out,
    )
    if unknown:
        print(
            "Billable calls of keys no account owns, as the reporter recorded them (kept in the ledger, not billed): "
            + ", ".join(f"{key_id} {calls}" for key_id, calls in sorted(unknown.items())),
            file=out,
        )
    beyond = [row for row in rows if row.beyond(arguments.threshold)]
    if beyond:
        print(f"{len(beyond)} row(s) differ by more than {arguments.threshold:g}.", file=out)
        return EXIT_DIFFERENCE
    print(f"Every difference is within {arguments.threshold:g}.", file=out)
    return 0


def _parser(today: date) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make usage-report",
        usage='make usage-report ARGS="[--from DAY] [--to DAY] [--threshold N] [--stack NAME | --function NAME]"',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"{WAYS_TO_CHOOSE}\n\nexamples:\n"
        "  make usage-report                                          # today, on a running make dev\n"
        f'  make usage-report ARGS="--from 2026-11-01 --to 2026-11-30 --function {EXAMPLE_FUNCTION}"',
    )
    parser.add_argument(
        "--from",
        dest="since",
        type=date.fromisoformat,
        default=today,
        metavar="DAY",
        help="first UTC day, YYYY-MM-DD (default: today)",
    )
    parser.add_argument(
        "--to",
        type=date.fromisoformat,
        default=today,
        metavar="DAY",
        help="last UTC day, included, YYYY-MM-DD (default: today)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0,
        metavar="N",
        help="exit 1 when a difference is larger than N calls (default 0)",
    )
    add_deployment_options(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
