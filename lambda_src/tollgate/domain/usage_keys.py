"""An account's usage key, the API Gateway key the authorizer names as usageIdentifierKey: its pool
shard's on a pooled plan (no API Gateway call: tollgate.domain.key_pools), else one of its own.

A key of its own is made at a paid sign-up, or at the first change from a pooled plan to a paid one
(`own_key`): then it is named after the account (`own_key_name`), so whoever finishes a change that
failed after the create (a retry, the webhook, the reconciler) adopts that key instead of making a
second; an account has at most one, kept until its cancellation's retention ends.

Creating a key of its own is API Gateway's CreateApiKey, limited to about 5 a second per account and
region, shared with every other API of the account (API Gateway quotas,
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html: "CreateApiKey 5 requests per
second per account"). boto3 retries a throttled call twice already; past that, a paid sign-up keeps
trying with a jittered exponential backoff for at most `retry_seconds`, so a burst of paid sign-ups
queues up behind the limit instead of failing, and the register function still finishes inside its
timeout (tests/lambda_src/unit/adapters/test_call_budgets.py counts KEY_CREATE_RETRY_SECONDS in). Past
it the sign-up is rolled back and answered 503 with Retry-After (Throttled is a retryable
DownstreamError).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable

from tollgate.domain.account import SIGNUP_KEY_NAME_PREFIX, Account
from tollgate.domain.errors import Throttled
from tollgate.domain.key_pools import KeyPool, PoolNotReady, shard_of
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.keys import ApiKeys, KeyPools
from tollgate.plans import Plan

# The longest a sign-up keeps trying CreateApiKey under its rate limit; then one last try may still
# stall for a whole call budget (test_call_budgets.py).
KEY_CREATE_RETRY_SECONDS = 6.0
FIRST_BACKOFF_SECONDS = 0.2


def own_key_name(account: Account) -> str:
    """The name of the key an account gets at a change to a paid plan: under the prefix orphan search lists
    (tollgate.domain.cleanup), unique to the account (its id is new at every sign-up)."""
    email_hash = hashlib.sha256(account.email.encode()).hexdigest()[:16]
    return f"{SIGNUP_KEY_NAME_PREFIX}{email_hash}-{account.account_id}"


class UsageKeys:
    """Finds a pooled account's shard key, creates an own key under the rate limit."""

    def __init__(
        self,
        api_keys: ApiKeys,
        pools: KeyPools,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        retry_seconds: float = KEY_CREATE_RETRY_SECONDS,
        jitter: Callable[[], float] = random.random,
    ):
        self._api_keys = api_keys
        self._pools = pools
        self._clock = clock
        self._sleep = sleep
        self._retry_seconds = retry_seconds
        self._jitter = jitter
        # A recorded shard never changes (KeyPools.record_shard), so what was read stays true: a warm
        # function reads a plan's pool once, and again only for a shard it has not seen yet.
        self._pools_read: dict[str, KeyPool] = {}
        self._lock = threading.Lock()

    def shard_key(self, plan: Plan, account_id: str) -> IssuedKey:
        """The key of `account_id`'s shard of `plan`'s pool. PoolNotReady while that shard is not made."""
        with self._lock:
            known = self._pools_read.get(plan.id)
        key = known.key_for(account_id, plan.pool_size) if known else None
        if key is None:
            pool = self._pools.get(plan.id)
            key = pool.key_for(account_id, plan.pool_size) if pool else None
            if pool is None or key is None:
                raise PoolNotReady(plan.id, shard_of(account_id, plan.pool_size))
            with self._lock:
                self._pools_read[plan.id] = pool
        return key

    def own_key(self, account: Account) -> IssuedKey:
        """The account's own key (in no usage plan yet, if new): the one its row records (its value read
        again: a pooled row holds its shard's), else the one named after it, else a new one."""
        key_id = account.api_key_id or next(
            (
                key.id
                for key in sorted(self._api_keys.keys_named(own_key_name(account)), key=lambda key: key.created_at)
                if key.name == own_key_name(account)
            ),
            None,
        )
        if key_id is not None:
            return IssuedKey(key_id, self._api_keys.key_value(key_id))
        return self.create_own(own_key_name(account), f"Tollgate: usage key of account {account.account_id}")

    def create_own(self, name: str, description: str) -> IssuedKey:
        """A new key (in no usage plan yet). Throttled calls are tried again until `retry_seconds` have
        passed since the first (boto3's own retries inside a call count too: the clock measures them)."""
        started, backoff = self._clock(), FIRST_BACKOFF_SECONDS
        while True:
            try:
                return self._api_keys.create_key(name, description)
            except Throttled:
                pause = backoff * (0.5 + self._jitter() / 2)  # jittered: throttled callers do not retry in step
                if self._clock() - started + pause > self._retry_seconds:
                    raise
                self._sleep(pause)
                backoff *= 2
