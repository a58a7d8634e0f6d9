"""Making an account's keys match its row: every writer's last step.

What the keys must look like follows from the row alone (`Account.key_target`), in two places:
- the keys table (tollgate.domain.key_items), which the authorizer decides from: every key item
  of the account carries the row's status, plan and usage key, and its own state (a rotated key's
  grace end, an ended key's TTL). Written FIRST, so a cut-off account is refused by the authorizer
  even when API Gateway cannot be reached;
- API Gateway, which throttles and counts: the account's one usage key (`Account.api_key_id`) is
  enabled and in its plan's usage plan (and no other: API Gateway allows one usage plan per key and
  stage) while `active`, disabled while `suspended` or `canceled` (a second line behind the
  authorizer), in no plan yet while `awaiting_payment_method`. Only when that part of the row changed
  (`Account.gateway_in_sync`): a rotation or a revocation makes no API Gateway call.
- the usage key's KIND follows the plan (`Account.usage_key_follows`): on a pooled plan the account
  is answered with its shard's key (tollgate.domain.key_pools), which nothing here ever changes; its
  own key from a paid plan, if any, moves to the pooled plan's usage plan like any usage key, so an
  answer the authorizer's cache still holds for it keeps working (on the plan's shard throttle) until
  it expires, and nothing names it after. On a paid plan it is answered with its own key, made (or
  adopted by its name) at the first change from a pooled plan (tollgate.domain.usage_keys). The row
  records the new usage key with the same conditional write that records the keys in sync, and the
  items carry it stamped with that write's version.
Every operation is idempotent (attaching a key twice, detaching one that is not there, disabling one
that is gone, copying a row version onto an item that holds it), so whoever comes next — a retry,
the webhook, the reconciler — finishes what a failure left half done. An item refuses a copy older
than the one it holds (`account_version`), so a slow writer never undoes a newer one there.

The row records what the keys were last made to match (`keys_synced_to`), written only if the row
is still the version the keys were set from. If another writer changed the row meanwhile, our calls
may have landed after theirs and undone them, so the keys are set again from a fresh read:
whoever acts last acts on the latest row. A row whose keys already match costs no call (API
Gateway's management calls share an account-wide 10/s limit with sign-ups).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial

from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, KeyNotFound
from tollgate.domain.key_items import KeyItem
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.keys import ApiKeys, KeyItems
from tollgate.domain.ports.metrics import Metrics
from tollgate.domain.usage_keys import UsageKeys
from tollgate.plans import Plan, PlanCatalog

MAX_ATTEMPTS = 3
_MAY_CALL = (AccountStatus.ACTIVE, AccountStatus.AWAITING_PAYMENT_METHOD)  # (the others need no usage key)


def move_keys(keys: ApiKeys, plans: PlanCatalog, key_ids: Iterable[str], plan: Plan) -> None:
    """Each key leaves every other plan's usage plan, then joins `plan`'s."""
    for key_id in key_ids:
        for other in plans:
            if other.usage_plan_id != plan.usage_plan_id:
                keys.detach_from_plan(key_id, other.usage_plan_id)
        keys.attach_to_plan(key_id, plan.usage_plan_id)


def follow_row(items: KeyItems, account: Account) -> None:
    """Copy `account` (as stored) onto every item of its keys. Raises the first DownstreamError after
    trying every item."""
    failures: list[DownstreamError] = []
    for record in account.key_records:
        if record.key_hash is not None:
            try:
                items.follow(KeyItem.of(account, record))
            except DownstreamError as failure:
                failures.append(failure)
    if failures:
        raise failures[0]


class KeyEnforcer:
    def __init__(
        self,
        accounts: Accounts,
        keys: ApiKeys,
        items: KeyItems,
        plans: PlanCatalog,
        metrics: Metrics,
        usage_keys: UsageKeys,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._usage_keys = usage_keys
        self._keys = keys
        self._items = items
        self._plans = plans
        self._metrics = metrics
        self._clock = clock

    def enforce(self, account: Account, gateway: bool = True) -> None:
        """Make the keys match `account` (as stored), unless the row says they already do; then record
        it. Raises DownstreamError when a key could not be set (the row then still says they do not
        match, and the next actor tries again). Without `gateway` (a writer that may not call API
        Gateway: the usage reporter's limits), only the key items are set, and a row whose API Gateway
        part does not match is left saying so, for the writers that may."""
        touched = False  # we changed keys after the row moved: our calls may have undone a newer writer's
        touched_gateway = False  # ... and API Gateway's among them
        for _ in range(MAX_ATTEMPTS):
            # (a writer that may not call API Gateway never makes a usage key: its row keeps the one it has)
            wanted = self._with_usage_key(account) if gateway else account
            if touched or not wanted.keys_in_sync:
                touched_gateway = touched_gateway or not wanted.gateway_in_sync
                # (A new usage key is on the items stamped with the version our write below gives the row.)
                self.set_keys(
                    wanted if wanted is account else replace(wanted, version=account.version + 1),
                    gateway=touched_gateway and gateway,
                )
                touched = True
                if touched_gateway and not gateway:
                    return
                try:
                    self._accounts.update(wanted.with_keys_synced(), account)
                    return
                except ConcurrentUpdate:
                    pass
            latest = self._accounts.get(account.email)
            if latest is None or (latest.keys_in_sync and not touched):
                return
            account = latest

    def _with_usage_key(self, account: Account) -> Account:
        """`account` with the usage key its plan calls for, if it may call (DownstreamError when the key
        cannot be had now: the pool's shard not made yet, API Gateway throttling or failing)."""
        plan = self._plans.get(account.plan_id)
        if account.status not in _MAY_CALL or account.usage_key_follows(plan) or account.account_id is None:
            return account
        if plan.pooled:
            return account.with_pool_key(self._usage_keys.shard_key(plan, account.account_id))
        return account.with_usage_key(self._usage_keys.own_key(account))

    def set_keys(self, account: Account, gateway: bool = True) -> None:
        """Copy the row onto the key items, then (with `gateway`) set the API Gateway keys. A step
        that fails does not stop the others (a suspended non-payer must lose every key it can); the
        first failure is raised after."""
        failures: list[DownstreamError] = []
        try:
            follow_row(self._items, account)
        except DownstreamError as failure:
            failures.append(failure)
        usage_key_id = account.api_key_id  # (on a pooled plan: its own key from a paid plan, if any)
        if gateway and account.status is AccountStatus.ACTIVE and usage_key_id:
            plan = self._plans.get(account.plan_id)
            failures += self._try(partial(self._enable, usage_key_id, plan), contract.METRIC_KEYS_ENABLED)
        elif gateway and account.status in (AccountStatus.SUSPENDED, AccountStatus.CANCELED):
            for key_id in account.gateway_key_ids:
                failures += self._try(partial(self._keys.set_enabled, key_id, False), contract.METRIC_KEYS_DISABLED)
        if failures:
            raise failures[0]

    def _enable(self, key_id: str, plan: Plan) -> None:
        move_keys(self._keys, self._plans, (key_id,), plan)
        self._keys.set_enabled(key_id, True)

    def _try(self, operation: Callable[[], None], metric: str) -> list[DownstreamError]:
        """`operation`'s failure, if any (a usage key that is gone too: the row says it exists)."""
        try:
            operation()
        except (KeyNotFound, DownstreamError) as failure:
            return [failure]
        self._metrics.count(metric)
        return []
