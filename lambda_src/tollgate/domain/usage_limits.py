"""Usage limits: after each count of an account's usage, is it over a limit for its current period?

The usage reporter counts every ledger object (tollgate.domain.usage_counting), then asks
`UsageLimits.review` about each account the object held. Each rule (`LimitRule`) looks at the account
on its plan now and answers a UsageLimit (a reason code, until the end of the period it holds for)
or None; the first rule that limits decides. The decision is written on the account row as a
versioned writer that owns only `usage_limit` (read, decide, write on `version`, decide again on a
fresh read when another writer got there first: tollgate.domain.account_store.change_account), then
copied to the account's key items (tollgate.domain.key_enforcement; never an API Gateway call), where
the authorizer reads it.
Nothing is written while the decision is what the row already says and its keys carry it, so a
steady caller costs one Query per object, and no write.

A limit lifts by itself at its `until` (the authorizer compares it with the time), and no longer
applies once the account is on another plan (tollgate.domain.usage_limit): an upgrade restores calls
at once, whoever changed the plan. The next count decides again.

Rules here: `QuotaRule` (`quota_exceeded`): on a plan whose quota Tollgate enforces
(`tollgate_enforces_quota`: the pooled plans, whose accounts share API Gateway keys, so API Gateway's
per-key quota cannot count per account), the account's metered calls in the plan's quota period
(UTC day, week from Monday, or calendar month, as API Gateway's usage plans count) reached the
plan's quota. Other rules plug in beside it (a spend cap, prepaid credits) with the same shape.
"""

from __future__ import annotations

import calendar
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.account_store import change_account
from tollgate.domain.errors import TollgateError
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.usage_limit import UsageLimit
from tollgate.plans import Plan, PlanCatalog, UnknownPlan


def tollgate_enforces_quota(plan: Plan) -> bool:
    """Whether Tollgate, not API Gateway, counts the plan's quota per account: its accounts share
    pooled gateway keys, whose usage plan has no quota of its own."""
    return plan.pooled


def quota_period(period: str, at: int) -> tuple[int, int]:
    """The [start, end) (epoch seconds) of the UTC `period` (DAY, WEEK from Monday, MONTH) holding `at`."""
    moment = datetime.fromtimestamp(at, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        start, end = day, day + timedelta(days=1)
    elif period == "WEEK":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "MONTH":
        start = day.replace(day=1)
        end = start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    else:
        raise ValueError(f"quota_period must be DAY, WEEK or MONTH, not {period!r}")
    return int(start.timestamp()), int(end.timestamp())


class LimitRule(ABC):
    """One reason an account's calls may stop until its period ends."""

    @abstractmethod
    def limit(self, account: Account, plan: Plan, now: int) -> UsageLimit | None:
        """The limit the account (on `plan`, as the row says now) is over at `now`, or None."""


class QuotaRule(LimitRule):
    """`quota_exceeded` on plans whose quota Tollgate enforces (see the module docstring)."""

    def __init__(self, counts: UsageCounts):
        self._counts = counts

    def limit(self, account: Account, plan: Plan, now: int) -> UsageLimit | None:
        if not tollgate_enforces_quota(plan) or not account.account_id:
            return None
        start, end = quota_period(plan.quota_period, now)
        used = self._counts.period_usage(account.account_id, start, end).metered
        return (
            UsageLimit(contract.USAGE_LIMIT_QUOTA_EXCEEDED, end, account.plan_id or "")
            if used >= plan.quota_limit
            else None
        )


class UsageLimits:
    """Decides and writes accounts' usage limits (see the module docstring)."""

    def __init__(
        self,
        accounts: Accounts,
        enforcer: KeyEnforcer,
        plans: PlanCatalog,
        rules: Sequence[LimitRule],
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._enforcer = enforcer
        self._plans = plans
        self._rules = tuple(rules)
        self._clock = clock

    def decide(self, account: Account) -> UsageLimit | None:
        """The limit `account` is over now, if any (the first rule's that says one)."""
        try:
            plan = self._plans.get(account.plan_id)
        except UnknownPlan:
            return None  # a plan no longer sold: no rule knows its numbers
        now = int(self._clock())
        return next((limit for rule in self._rules if (limit := rule.limit(account, plan, now)) is not None), None)

    def review(self, accounts: Iterable[Account]) -> list[TollgateError]:
        """Decide each account's limit and write what changed (row, then key items). `accounts` may be
        a little stale (read through an index): only a change is written, decided again on a fresh
        read. Every account is tried; the failures are returned (the next count decides again)."""
        failures: list[TollgateError] = []
        for account in accounts:
            try:
                # Also when the keys do not match the row yet: a copy that failed before is made now.
                if self.decide(account) != account.usage_limit or not account.keys_in_sync:
                    self.apply(account.email)
            except TollgateError as failure:  # a read or write that failed, or lost too many races
                failures.append(failure)
        return failures

    def apply(self, email: str) -> Account | None:
        """Decide the row's limit on a fresh read and write it if it changed, then make the key items
        carry it. Raises DownstreamError, or ConcurrentUpdate after repeated races."""

        def decide(row: Account) -> Account | None:
            wanted = self.decide(row)
            return None if wanted == row.usage_limit else row.with_usage_limit(wanted)

        stored = change_account(self._accounts, email, decide)
        if stored is not None:
            self._enforcer.enforce(stored, gateway=False)  # the reporter makes no API Gateway call
        return stored
