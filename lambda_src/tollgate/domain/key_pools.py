"""Pooled usage keys: the accounts of a pooled plan share P API Gateway keys of that plan's usage plan.

API Gateway allows 10,000 API keys per account and region, not adjustable, and creates at most about
5 a second (docs/scaling.md). One key per account would end a deployment at 10,000 accounts and cap
sign-ups at 5 a second, free ones included. So a plan with a `pool_size` P > 0 (the setting
`free_pool_size` for free plans) has P keys, its SHARDS, made once by Tollgate, and an account of the
plan is answered by the authorizer with the value of shard `shard_of(account id, P)`: a stable hash, so
an account always lands on the same shard. Its sign-up makes no API Gateway call at all.

What a shared key means: the usage plan's throttle is shared by every account of the shard, so a
pooled usage plan has no API Gateway quota (it would be the shard's, not an account's); the plan's
per-account quota is Tollgate's count (the usage counts of the ledger, enforced by the authorizer) and
the shard's throttle bounds what one shard, however busy, can send (infra/gateway.py,
docs/scaling.md#pooled-keys).

The pool is made by `KeyPoolProvisioner` (the hourly housekeeping, and `make dev` at start):
idempotent by the keys' deterministic names (`pool_key_name`), so a retry or a redeploy never makes a
second key for a shard. Each shard is recorded once (KeyPools.record_shard keeps the first key recorded
for it): two provisioners racing both create a key, one is recorded, and the other deletes its own.
A key is attached to its usage plan BEFORE it is recorded, so a recorded shard always works. Keys
named like a shard that no record names (a provisioner that died between create and record) are
deleted by the next run once they are older than ORPHAN_GRACE_SECONDS.

A pool key's value is not a credential (the stage takes keys from the authorizer only, API key source
AUTHORIZER), but it is never shown nor logged all the same (IssuedKey hides it from repr).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import IssuedKey, ListedKey
from tollgate.domain.pacing import Pacer
from tollgate.domain.ports.keys import ApiKeys, KeyPools
from tollgate.plans import Plan, PlanCatalog

# Pool keys are named apart from sign-up keys (`tollgate-<email hash>-<attempt>`, which orphan search
# lists by SIGNUP_KEY_NAME_PREFIX): "pool" is no hex digest, so no sign-up key is ever taken for one.
POOL_KEY_NAME_PREFIX = "tollgate-pool-"
# Of API Gateway's 5 key creations a second per account: the rest stays for paid sign-ups.
POOL_KEY_CREATIONS_PER_SECOND = 2
# A shard key no record names is deleted only once older than this: a provisioner that created it
# may still be about to record it (its run is far shorter).
ORPHAN_GRACE_SECONDS = 3600


def pool_key_name(plan_id: str, shard: int) -> str:
    """The one name shard `shard` of `plan_id`'s pool has (how a retry finds the key it made)."""
    return f"{POOL_KEY_NAME_PREFIX}{plan_id}-{shard:04d}"


def shard_of(account_id: str, pool_size: int) -> int:
    """The shard of an account: a stable hash of its id (never of its email, which a sign-up after a
    cancellation reuses), uniform over 0..pool_size-1."""
    digest = hashlib.sha256(account_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % pool_size


@dataclass(frozen=True)
class KeyPool:
    """The recorded keys of one plan's pool: shard number -> its API Gateway key (id and value)."""

    plan_id: str
    shards: dict[int, IssuedKey]

    def key_for(self, account_id: str, pool_size: int) -> IssuedKey | None:
        """The shard key `account_id` is answered with; None while that shard is not made yet."""
        return self.shards.get(shard_of(account_id, pool_size))

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(key.id for key in self.shards.values())


class PoolNotReady(DownstreamError):
    """The account's shard has no key yet (a deployment whose housekeeping has not run since the pool
    was set up or grown): a sign-up is answered 503, to try again once the pool is made."""

    def __init__(self, plan_id: str, shard: int):
        super().__init__(
            "API Gateway",
            f"the {plan_id} plan's pooled key {shard} is not made yet (the housekeeping makes it within the hour)",
            retryable=True,
        )


@dataclass(frozen=True)
class PoolRun:
    """What one provisioning run did: shards made or adopted, orphans deleted, shards still missing."""

    recorded: int = 0
    orphans_deleted: int = 0
    missing: int = 0  # shards not made (a failure, or the deadline): the next run carries on
    problem: str | None = None

    def plus(self, other: PoolRun) -> PoolRun:
        return PoolRun(
            self.recorded + other.recorded,
            self.orphans_deleted + other.orphans_deleted,
            self.missing + other.missing,
            self.problem or other.problem,
        )


class KeyPoolProvisioner:
    """Makes every pooled plan's P shard keys exist, in its usage plan, recorded (idempotent)."""

    def __init__(
        self,
        api_keys: ApiKeys,
        pools: KeyPools,
        plans: PlanCatalog,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        creations_per_second: float = POOL_KEY_CREATIONS_PER_SECOND,
    ):
        self._api_keys = api_keys
        self._pools = pools
        self._plans = plans
        self._clock = clock
        self._pacer = Pacer(creations_per_second, clock, sleep)

    def provision(self, deadline: float) -> PoolRun:
        """One run over every pooled plan; no key is created after `deadline` (epoch seconds)."""
        run = PoolRun()
        for plan in self._plans:
            if plan.pool_size:
                try:
                    run = run.plus(self._provision(plan, deadline))
                except DownstreamError as problem:
                    return run.plus(PoolRun(missing=plan.pool_size, problem=str(problem)))
        return run

    def _provision(self, plan: Plan, deadline: float) -> PoolRun:
        pool = self._pools.get(plan.id) or KeyPool(plan.id, {})
        missing = [shard for shard in range(plan.pool_size) if shard not in pool.shards]
        listed = self._api_keys.keys_named(f"{POOL_KEY_NAME_PREFIX}{plan.id}-")  # (one call per 500 keys)
        by_name: dict[str, list[ListedKey]] = {}
        for found in sorted(listed, key=lambda found: (found.created_at, found.id)):  # the oldest of a name first
            by_name.setdefault(found.name, []).append(found)
        recorded = 0
        for shard in missing:
            self._pacer.wait()  # (a key's create, or its adoption's read, and its attach)
            if self._clock() >= deadline:
                return PoolRun(recorded, missing=len(missing) - recorded)
            key = self._shard_key(plan, shard, by_name.get(pool_key_name(plan.id, shard), []))
            kept = self._pools.record_shard(plan.id, shard, key)
            if kept.id != key.id:  # another run recorded its own key for the shard first
                self._api_keys.delete_key(key.id)
            pool.shards[shard] = kept
            recorded += 1
        return PoolRun(recorded, self._delete_orphans(listed, pool))

    def _shard_key(self, plan: Plan, shard: int, named: list[ListedKey]) -> IssuedKey:
        """The shard's key, attached to the plan's usage plan: the oldest key of its name (a run that
        died before recording it), else a new one."""
        if named:
            key = IssuedKey(named[0].id, self._api_keys.key_value(named[0].id))
        else:
            key = self._api_keys.create_key(
                pool_key_name(plan.id, shard), f"Tollgate: pooled usage key {shard} of plan {plan.id}"
            )
        self._api_keys.attach_to_plan(key.id, plan.usage_plan_id)
        return key

    def _delete_orphans(self, listed: list[ListedKey], pool: KeyPool) -> int:
        """Delete this plan's pool-named keys no record names, once past the grace."""
        now, named = self._clock(), re.compile(re.escape(f"{POOL_KEY_NAME_PREFIX}{pool.plan_id}-") + r"\d{4}")
        orphans = [
            key
            for key in listed  # (not another plan's whose id starts like this one's: `free-tier`)
            if named.fullmatch(key.name) and key.id not in pool.key_ids and key.created_at < now - ORPHAN_GRACE_SECONDS
        ]
        for key in orphans:
            self._pacer.wait()
            self._api_keys.delete_key(key.id)
        return len(orphans)
