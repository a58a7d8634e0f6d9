"""The scheduled housekeeping: keeps the region's API keys below API Gateway's quota and counts what
an operator must look at.

API Gateway allows contract.API_KEYS_PER_REGION keys per account and region, a quota AWS does not
raise, and every key counts, disabled ones included. A canceled account's key is disabled for good
(cancelled is final: a new sign-up gets a new key), so churned customers would use the quota up for
ever. Each run:

- deletes the API Gateway keys of every account canceled more than `retention_days` ago (its usage
  key, and any key from before issue 20 still there). The row keeps the key ids, each customer key
  now `retired` (its item too, with a TTL; the usage key's late usage still finds its customer in
  the usage reporter), and says in its history when they were deleted; the keys are deleted first
  and the row written after, so a crash in between is repaired by the next run (deleting a key
  twice is not an error). Deletions are paced
  (API Gateway allows 5 key deletions a second per account, shared with sign-ups) and stop at
  `deadline`: the next run carries on;
- makes the pooled plans' shard keys that do not exist yet (tollgate.domain.key_pools: idempotent,
  nothing to do once the pools are made), before anything else: a free sign-up waits for its shard;
- counts the keys of the region (what the quota counts), and the rows nothing will finish
  (`failed`, or `pending` past the lease: what `make failed-accounts` cleans).

The handler publishes what the run found as metrics; the stack's alarms watch them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError
from tollgate.domain.key_enforcement import follow_row
from tollgate.domain.key_pools import KeyPoolProvisioner, PoolRun
from tollgate.domain.pacing import Pacer
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.keys import ApiKeys, KeyItems

KEY_DELETIONS_PER_SECOND = 2  # of API Gateway's 5 per second and account: the rest stays for sign-ups
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class KeyDeletion:
    """One canceled account's key the run tried to delete (`problem`: why it, or another key of the
    same account, is still there)."""

    api_key_id: str
    problem: str | None = None


@dataclass(frozen=True)
class HousekeepingRun:
    pools: PoolRun  # what the pooled plans' keys lacked and got
    stuck_accounts: int  # `failed` rows and sign-ups abandoned mid-way
    deletions: tuple[KeyDeletion, ...]
    keys_due: int  # canceled accounts' keys past the retention, deleted or not (yet)
    keys_in_region: int | None  # None: API Gateway could not list them (`count_problem` says why)
    count_problem: str | None = None

    @property
    def keys_deleted(self) -> int:
        return sum(1 for deletion in self.deletions if deletion.problem is None)

    @property
    def deletions_failed(self) -> int:
        return sum(1 for deletion in self.deletions if deletion.problem is not None)


class Housekeeping:
    """Deletes canceled accounts' keys after the retention; counts keys and stuck rows."""

    def __init__(
        self,
        accounts: Accounts,
        api_keys: ApiKeys,
        key_items: KeyItems,
        retention_days: int,
        pools: KeyPoolProvisioner,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        deletions_per_second: float = KEY_DELETIONS_PER_SECOND,
    ):
        self._accounts = accounts
        self._pools = pools
        self._api_keys = api_keys
        self._key_items = key_items
        self._retention_seconds = retention_days * DAY_SECONDS
        self._retention_days = retention_days
        self._clock = clock
        self._pacer = Pacer(deletions_per_second, clock, sleep)

    def run(self, deadline: float) -> HousekeepingRun:
        """One run; no deletion starts after `deadline` (epoch seconds). DownstreamError when the
        table or the key count cannot be read (the handler logs it; the next run tries again)."""
        pools = self._pools.provision(deadline)
        now = int(self._clock())
        rows = self._accounts.list_by_status(AccountStatus.CANCELED, AccountStatus.FAILED, AccountStatus.PENDING)
        due = [row for row in rows if self._key_due(row, now)]
        deletions = []
        for account in due:
            if self._clock() >= deadline:
                break
            try:
                deletions.extend(self._delete_keys(account))
            except DownstreamError as problem:
                deletions.append(KeyDeletion(account.api_key_id or "", str(problem)))
                if problem.retryable:
                    break  # API Gateway or DynamoDB is failing or throttling: the next run carries on
        stuck = sum(1 for row in rows if row.is_stuck(now))
        try:
            keys_in_region = self._api_keys.count_in_region()
        except DownstreamError as problem:
            return HousekeepingRun(pools, stuck, tuple(deletions), len(due), None, str(problem))
        return HousekeepingRun(pools, stuck, tuple(deletions), len(due), keys_in_region)

    def _key_due(self, account: Account, now: int) -> bool:
        canceled_since = account.canceled_since()
        return (
            canceled_since is not None
            and bool(account.gateway_key_ids)
            and canceled_since <= now - self._retention_seconds
        )

    def _delete_keys(self, account: Account) -> list[KeyDeletion]:
        key_ids = account.gateway_key_ids
        for key_id in key_ids:
            self._pacer.wait()
            self._api_keys.delete_key(key_id)
        deleted = account.with_keys_deleted(
            int(self._clock()),
            f"API key{'s' if len(key_ids) > 1 else ''} {', '.join(key_ids)} deleted "
            f"{self._retention_days} days after the cancellation (canceled_key_retention_days)",
        )
        try:
            stored = self._accounts.update(deleted, account)
        except ConcurrentUpdate:
            return [KeyDeletion(key_id) for key_id in key_ids]  # a new sign-up took the canceled row over meanwhile
        follow_row(self._key_items, stored)  # the customer's keys end (a failure: the reconciler's drift repair)
        return [KeyDeletion(key_id) for key_id in key_ids]
