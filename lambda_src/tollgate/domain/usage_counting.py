"""Per-account usage counts: what each ledger object adds to its accounts' UTC hours, counted once.

The usage reporter counts every object it reads (port UsageCounts), before anything goes to Stripe:
per account and UTC hour of the call, the *metered* calls (what API Gateway's usage plan would count,
and what a quota Tollgate enforces counts: tollgate.domain.usage_limits) and the *billable* ones,
also per Stripe price they are billed at (what a spend cap or prepaid credits charge). Calls on free
plans count too: they are sent to no meter, but they spend a quota.

Idempotent per (account, hour, ledger object): the write that adds an object's counts also records
the object's tag in the hour, on the condition that it is not there yet, so a redelivered object or
two concurrent deliveries of one never count twice. An hour holds at most a few dozen objects
(Firehose flushes every 60 s, a few per hour more under load), so the tags stay a few KB. An object
whose calls straddle an hour adds to both hours, each once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from tollgate.domain.account import Account
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.usage import CallerUsage, LedgerObject, MeteredCall, hour_of

PARALLEL_WRITES = 8  # one UpdateItem per (account, hour): an object of a thousand free accounts in ~1 s


@dataclass(frozen=True)
class HourCounts:
    """What one ledger object adds to one account's UTC hour."""

    account_id: str
    hour: int  # epoch seconds of the hour's start
    source_tag: str  # the object's (`source_tag`)
    metered: int
    billable: int
    billed: Mapping[str, int] = field(default_factory=dict)  # Stripe price id -> billable calls billed at it


@dataclass(frozen=True)
class PeriodUsage:
    """An account's counts over a period."""

    metered: int = 0
    billable: int = 0
    billed: Mapping[str, int] = field(default_factory=dict)  # Stripe price id -> billable calls billed at it


def source_tag(source: LedgerObject) -> str:
    """A short, stable name of a ledger object (its full key is ~100 characters; an hour keeps dozens)."""
    return hashlib.sha256(str(source).encode()).hexdigest()[:24]


def hour_counts(
    source: LedgerObject, usages: list[CallerUsage], account_id: str, price_of: Callable[[MeteredCall], str | None]
) -> list[HourCounts]:
    """An account's usage in `source`, by hour: the usages of every caller that is the account (its
    account id, and in records from before the authorizer its key) added together, so the object is
    ONE write per hour of the account. `price_of` says the price a billable call is billed at (None:
    not billed, e.g. a free plan's)."""
    metered: Counter[int] = Counter()
    billable: Counter[int] = Counter()
    billed: dict[int, Counter[str]] = {}
    for usage in usages:
        metered.update(usage.calls_by_hour)
        for call in usage.billable_calls:
            hour = hour_of(call.at_ms)
            billable[hour] += 1
            price_id = price_of(call)
            if price_id is not None:
                billed.setdefault(hour, Counter())[price_id] += 1
    tag = source_tag(source)
    return [
        HourCounts(account_id, hour, tag, calls, billable[hour], dict(billed.get(hour, {})))
        for hour, calls in sorted(metered.items())
    ]


class UsageTally:
    """Adds a ledger object's calls to its accounts' counts (see the module docstring)."""

    def __init__(self, counts: UsageCounts, parallel_writes: int = PARALLEL_WRITES):
        self._counts = counts
        self._parallel_writes = parallel_writes

    def count(
        self,
        source: LedgerObject,
        by_caller: Mapping[str, CallerUsage],
        accounts: Mapping[str, Account | None],
        price_of: Callable[[Account, MeteredCall], str | None],
    ) -> list[Account]:
        """Count the object's calls of every caller that is an account (with an account id); return those
        accounts, whether this delivery or an earlier one counted them (their limits are decided
        again either way). Raises DownstreamError when a count could not be written (a retry of the
        object adds only what is missing)."""
        owners: dict[str, tuple[Account, list[CallerUsage]]] = {}
        for caller, usage in by_caller.items():
            account = accounts.get(caller)
            if account is not None and account.account_id:  # else: counted per caller in the object's summary
                owners.setdefault(account.account_id, (account, []))[1].append(usage)
        writes = [
            counts
            for account_id, (account, usages) in owners.items()
            for counts in hour_counts(source, usages, account_id, partial(price_of, account))
        ]
        with ThreadPoolExecutor(max_workers=self._parallel_writes) as pool:
            list(pool.map(self._counts.add, writes))  # re-raises the first failure
        return [account for account, _ in owners.values()]
