"""Making an account's API keys in API Gateway match its row: every writer's last step.

What the keys must look like follows from the row alone (`Account.key_target`): an `active`
account's callable keys (the current one, a rotated one within its grace) are enabled and in its
plan's usage plan (and no other: API Gateway allows one usage plan per key and stage), a rotated one
past its grace is disabled until it is retired, a `suspended` or `canceled` one's existing keys are
disabled, an `awaiting_payment_method` one's keys are in no plan yet. Every operation is idempotent (attaching a
key twice, detaching one that is not there, disabling one that is gone), so whoever comes next —
a retry, the webhook, the reconciler — finishes what a failure left half done.

The row records what the keys were last made to match (`keys_synced_to`), written only if the row
is still the version the keys were set from. If another writer changed the row meanwhile, our calls
may have landed after theirs and undone them, so the keys are set again from a fresh read:
whoever acts last acts on the latest row. A row whose keys already match costs no call (API
Gateway's management calls share an account-wide 10/s limit with sign-ups).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial

from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, KeyNotFound
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.keys import ApiKeys
from tollgate.domain.ports.metrics import Metrics
from tollgate.plans import Plan, PlanCatalog

MAX_ATTEMPTS = 3


def move_keys(keys: ApiKeys, plans: PlanCatalog, key_ids: Iterable[str], plan: Plan) -> None:
    """Each key leaves every other plan's usage plan, then joins `plan`'s."""
    for key_id in key_ids:
        for other in plans:
            if other.usage_plan_id != plan.usage_plan_id:
                keys.detach_from_plan(key_id, other.usage_plan_id)
        keys.attach_to_plan(key_id, plan.usage_plan_id)


class KeyEnforcer:
    def __init__(self, accounts: Accounts, keys: ApiKeys, plans: PlanCatalog, metrics: Metrics,
                 clock: Callable[[], float] = time.time):
        self._accounts = accounts
        self._keys = keys
        self._plans = plans
        self._metrics = metrics
        self._clock = clock

    def enforce(self, account: Account) -> None:
        """Make the keys match `account` (as stored), unless the row says they already do; then record
        it. Raises DownstreamError when a key could not be set (the row then still says they do not
        match, and the next actor tries again)."""
        touched = False  # we changed keys after the row moved: our calls may have undone a newer writer's
        for _ in range(MAX_ATTEMPTS):
            if touched or not account.keys_in_sync:
                self.set_keys(account)
                touched = True
                try:
                    self._accounts.update(account.with_keys_synced(), account)
                    return
                except ConcurrentUpdate:
                    pass
            latest = self._accounts.get(account.email)
            if latest is None or (latest.keys_in_sync and not touched):
                return
            account = latest

    def set_keys(self, account: Account) -> None:
        """Set every key of the account, the current one first. A key that fails does not stop the
        others (a suspended non-payer must lose every key it can); the first failure is raised after."""
        failures: list[DownstreamError] = []
        if account.status is AccountStatus.ACTIVE:
            plan, callable_now = self._plans.get(account.plan_id), account.callable_key_ids(self._clock())
            for key_id in account.existing_key_ids:
                if key_id in callable_now:
                    failures += self._try(partial(self._enable, key_id, plan), contract.METRIC_KEYS_ENABLED,
                                          gone_ok=key_id != account.api_key_id)
                else:  # past its grace: it can no longer call, and waits to be retired
                    failures += self._try(partial(self._keys.set_enabled, key_id, False), contract.METRIC_KEYS_DISABLED)
        elif account.status in (AccountStatus.SUSPENDED, AccountStatus.CANCELED):
            for key_id in account.existing_key_ids:
                failures += self._try(partial(self._keys.set_enabled, key_id, False), contract.METRIC_KEYS_DISABLED)
        if failures:
            raise failures[0]

    def _enable(self, key_id: str, plan: Plan) -> None:
        move_keys(self._keys, self._plans, (key_id,), plan)
        self._keys.set_enabled(key_id, True)

    def _try(self, operation: Callable[[], None], metric: str, gone_ok: bool = False) -> list[DownstreamError]:
        """`operation`'s failure, if any; with `gone_ok`, a key that is gone (a rotated-out key ended by a
        retirement or revocation whose row write is still to come) is none."""
        try:
            operation()
        except KeyNotFound as gone:
            return [] if gone_ok else [gone]
        except DownstreamError as failure:
            return [failure]
        self._metrics.count(metric)
        return []
