"""In-memory fakes of the ports (tollgate.domain.ports; Stripe's in testkit.fake_billing), for the unit tests,
the handler tests on fakes and the benchmark. Each behaves like the real service where the domain relies on it
(conditional writes, idempotent deletes, Stripe idempotency keys) and fails on demand
(testkit.faults.FaultyFake)."""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace

from testkit.fake_billing import FakeBilling
from testkit.faults import CallRecorder, FaultyFake
from tollgate.domain.account import Account, AccountStatus, AppliedEvent
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, EventAlreadyApplied, KeyNotFound
from tollgate.domain.key_authorization import refusal
from tollgate.domain.key_items import KeyItem
from tollgate.domain.key_pools import KeyPool
from tollgate.domain.models import IssuedKey, ListedKey, ReconcilerRun
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.analytics import Analytics
from tollgate.domain.ports.keys import ApiKeys, KeyItems, KeyPools
from tollgate.domain.ports.metrics import Metrics
from tollgate.domain.ports.reconciler_runs import ReconcilerRuns
from tollgate.plans import CreditPack, Plan, PlanCatalog, PrepaidTerms

# The plans the fakes' deployment sells: the default (paid, metered, no card first, as a deployment of
# the flat settings), a free plan, and a paid plan that needs a card before its key works.
TEST_PLANS = PlanCatalog(
    (
        Plan("standard", "Standard", "usage-plan-standard", "price_1", False, 10_000, "MONTH"),
        Plan("free", "Free", "usage-plan-free", None, False, 1_000, "MONTH"),
        Plan("pro", "Pro", "usage-plan-pro", "price_pro", True, 100_000, "MONTH"),
    )
)
# The same plans as a deployment with `free_pool_size` sets them: the free plan's accounts share 4 keys.
POOLED_PLANS = PlanCatalog(tuple(replace(plan, pool_size=4) if plan.is_free else plan for plan in TEST_PLANS))

# A prepaid plan (docs/prepaid-credits.md) and the catalog that sells it besides TEST_PLANS: a call takes
# 0.001 USD of credit; 10 USD buys 10 USD of it, 50 USD buys 55.
PREPAID_PLAN = Plan(
    "prepaid",
    "Prepaid",
    "usage-plan-prepaid",
    None,
    False,
    100_000,
    "MONTH",
    prepaid=PrepaidTerms(1_000, "usd", (CreditPack("ten", 10_000_000, 1_000), CreditPack("fifty", 55_000_000, 5_000))),
)
PREPAID_PLANS = PlanCatalog((*TEST_PLANS.plans, PREPAID_PLAN))


def item_allows(state: str, not_after: float | None, account_status: str, now: float) -> bool:
    """The authorizer's rule on a key's item: the key active, or rotating out before its grace end, and
    the account's status one that may call: the stage's own rule, tollgate.domain.key_authorization."""
    return refusal(state, not_after, account_status, now) is None


class FakeApiKeys(FaultyFake, ApiKeys):
    port = "apigateway"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.keys: dict[str, dict] = {}  # id -> {"name", "value", "enabled"}
        self.plan: dict[str, str] = {}  # key id -> the usage plan it is in
        self.other_keys_in_region = 0
        self.clock = time.time  # when keys are created (a World's clock)
        self._ids = itertools.count(1)

    def create_key(self, name: str, description: str) -> IssuedKey:
        with self._call("create_key", name):
            key = IssuedKey(id=f"key{next(self._ids):04d}", value=secrets.token_urlsafe(30))
            self.keys[key.id] = {"name": name, "value": key.value, "enabled": True, "created_at": int(self.clock())}
            return key

    def delete_key(self, key_id: str) -> None:
        with self._call("delete_key", key_id):
            self.keys.pop(key_id, None)
            self.plan.pop(key_id, None)

    def attach_to_plan(self, key_id: str, usage_plan_id: str) -> None:
        """As API Gateway: one usage plan per key per stage (another one is a ConflictException)."""
        with self._call("attach_to_plan", key_id, usage_plan_id):
            if key_id not in self.keys:
                raise KeyNotFound(key_id)
            if self.plan.get(key_id, usage_plan_id) != usage_plan_id:
                raise DownstreamError(
                    self.port, f"key {key_id} is in usage plan {self.plan[key_id]} already", retryable=False
                )
            self.plan[key_id] = usage_plan_id

    def detach_from_plan(self, key_id: str, usage_plan_id: str) -> None:
        with self._call("detach_from_plan", key_id, usage_plan_id):
            if self.plan.get(key_id) == usage_plan_id:
                del self.plan[key_id]

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        """As the port says: disabling a key that is gone is not an error, enabling one is (NotFound)."""
        with self._call("set_enabled", key_id, enabled):
            if key_id in self.keys:
                self.keys[key_id]["enabled"] = enabled
            elif enabled:
                raise KeyNotFound(key_id)

    def key_value(self, key_id: str) -> str:
        with self._call("key_value", key_id):
            if key_id not in self.keys:
                raise KeyNotFound(key_id)
            return self.keys[key_id]["value"]

    def keys_named(self, prefix: str) -> list[ListedKey]:
        with self._call("keys_named", prefix):
            return [
                ListedKey(key_id, key["name"], key["created_at"])
                for key_id, key in self.keys.items()
                if key["name"].startswith(prefix)
            ]

    def count_in_region(self) -> int:
        """This deployment's keys and `other_keys_in_region` (other APIs' keys count against the quota too)."""
        with self._call("count_in_region"):
            return len(self.keys) + self.other_keys_in_region

    def name_of(self, key_id: str) -> str:
        return self.keys[key_id]["name"]

    def can_call_api(self, key_id: str) -> bool:
        """What API Gateway would decide: the key exists, is enabled and is in the plan."""
        return key_id in self.plan and self.keys.get(key_id, {}).get("enabled", False)


class FakeAnalytics(FaultyFake, Analytics):
    port = "moesif"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.companies: dict[str, dict[str, str]] = {}
        self.users: dict[str, dict] = {}

    def upsert_company(self, company_id: str, metadata: dict[str, str]) -> None:
        with self._call("upsert_company", company_id):
            self.companies[company_id] = dict(metadata)

    def upsert_user(self, user_id: str, company_id: str, metadata: dict[str, str]) -> None:
        with self._call("upsert_user", user_id, company_id):
            self.users[user_id] = {"company_id": company_id, "metadata": dict(metadata)}


_ROW_FIELDS = tuple(row_field.name for row_field in fields(Account) if row_field.name not in ("email", "version"))


class FakeAccounts(FaultyFake, Accounts):
    """The accounts table with DynamoDB's conditional-write semantics on the row's version; rows are
    copied in and out so callers cannot change stored state behind its back (tests/contract/
    test_accounts.py holds it to DynamoAccounts' behaviour)."""

    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: dict[str, Account] = {}
        self.billing_events: dict[str, int] = {}  # Stripe event id -> remember until (epoch s)
        self.key_pointers: dict[str, set[str]] = {}  # email -> earlier key ids (the `api-key#<id>` items)

    def get(self, email: str) -> Account | None:
        with self._call("get", email), self._lock:
            return copy.deepcopy(self.rows.get(email))

    def create(self, account: Account) -> Account:
        with self._call("create", account.email, account.status), self._lock:
            if account.email in self.rows:
                raise ConcurrentUpdate(f"{account.email} already exists")
            stored = replace(account, version=1)
            self.rows[account.email] = copy.deepcopy(stored)
            return stored

    def update(self, account: Account, read: Account, event: AppliedEvent | None = None) -> Account:
        with self._call("update", read.email, account.status), self._lock:
            if event is not None and event.event_id in self.billing_events:
                raise EventAlreadyApplied(event.event_id)
            self._check_version(read)
            # As the DynamoDB adapter: only what `account` changes of `read` is written.
            changes = {
                name: getattr(account, name) for name in _ROW_FIELDS if getattr(account, name) != getattr(read, name)
            }
            stored = replace(self.rows[read.email], **changes, version=read.version + 1)
            self.rows[read.email] = copy.deepcopy(stored)
            self.key_pointers.setdefault(read.email, set()).update(
                gateway_id
                for record in stored.key_records
                if (gateway_id := record.own_gateway_key_id) and gateway_id != stored.api_key_id
            )
            if event is not None:
                self.billing_events[event.event_id] = event.remember_until
            return stored

    def delete(self, read: Account) -> None:
        with self._call("delete", read.email), self._lock:
            self._check_version(read)
            del self.rows[read.email]

    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        with self._call("find_by_api_key_id", api_key_id):
            return self._find(lambda row: row.api_key_id == api_key_id) or self._find(
                lambda row: api_key_id in self.key_pointers.get(row.email, set()) and row.owns_gateway_key(api_key_id)
            )

    def find_by_account_id(self, account_id: str) -> Account | None:
        with self._call("find_by_account_id", account_id):
            return self._find(lambda row: row.account_id == account_id)

    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        with self._call("find_by_subscription_id", subscription_id):
            return self._find(lambda row: row.subscription_id == subscription_id)

    def find_by_customer_id(self, customer_id: str) -> Account | None:
        with self._call("find_by_customer_id", customer_id):
            return self._find(lambda row: row.customer_id == customer_id)

    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        with self._call("list_by_status", *statuses), self._lock:
            return [copy.deepcopy(row) for row in self.rows.values() if row.status in statuses]

    def list_to_follow_up(self) -> list[Account]:
        with self._call("list_to_follow_up"), self._lock:
            return [copy.deepcopy(row) for row in self.rows.values() if row.follow_up_since is not None]

    def count_by_status(self) -> dict[AccountStatus, int]:
        with self._call("count_by_status"), self._lock:
            return dict(Counter(row.status for row in self.rows.values()))

    def _check_version(self, read: Account) -> None:
        current = self.rows.get(read.email)
        if current is None or current.version != read.version:
            raise ConcurrentUpdate(f"{read.email} changed meanwhile")

    def _find(self, matches) -> Account | None:
        with self._lock:
            return next((copy.deepcopy(row) for row in self.rows.values() if matches(row)), None)


class FakeKeyPools(FaultyFake, KeyPools):
    """The pool items: a shard, once recorded, keeps its key (DynamoDB's if_not_exists)."""

    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shards: dict[str, dict[int, IssuedKey]] = {}

    def get(self, plan_id: str) -> KeyPool | None:
        with self._call("get", plan_id):
            return KeyPool(plan_id, dict(self.shards[plan_id])) if plan_id in self.shards else None

    def record_shard(self, plan_id: str, shard: int, key: IssuedKey) -> IssuedKey:
        with self._call("record_shard", plan_id, shard):
            return self.shards.setdefault(plan_id, {}).setdefault(shard, key)


class FakeKeyItems(FaultyFake, KeyItems):
    """The keys table with DynamoDB's conditional writes (tests/contract/test_key_items.py holds it to
    DynamoKeyItems' behaviour)."""

    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.items: dict[str, KeyItem] = {}

    def put(self, item: KeyItem) -> None:
        with self._call("put", item.key_id), self._lock:
            if item.key_hash in self.items:
                raise ConcurrentUpdate(f"a key item with hash {item.key_id}... exists")
            self.items[item.key_hash] = item

    def get(self, key_hash: str) -> KeyItem | None:
        with self._call("get", key_hash[:16]), self._lock:
            return self.items.get(key_hash)

    def follow(self, item: KeyItem) -> bool:
        with self._call("follow", item.key_id, item.account_version), self._lock:
            stored = self.items.get(item.key_hash)
            if stored is None or stored.account_version > item.account_version:
                return False
            self.items[item.key_hash] = replace(
                item,
                hint=stored.hint,
                account=stored.account,
                account_id=stored.account_id,
                created_at=stored.created_at,
            )
            return True

    def delete(self, key_hash: str) -> None:
        with self._call("delete", key_hash[:16]), self._lock:
            self.items.pop(key_hash, None)

    def of_account(self, email: str) -> list[KeyItem]:
        """Every item of an account, oldest first (for tests)."""
        return sorted((item for item in self.items.values() if item.account == email), key=lambda item: item.created_at)


class FakeReconcilerRuns(FaultyFake, ReconcilerRuns):
    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.run: ReconcilerRun | None = None

    def last(self) -> ReconcilerRun | None:
        with self._call("last"):
            return self.run

    def save(self, run: ReconcilerRun) -> None:
        with self._call("save", run.cursor):
            self.run = run


class FakeMetrics(Metrics):
    """Every metric recorded, in order: a test asserts that a point of the code counted it."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, float]] = []

    def count(self, name: str, value: float = 1) -> None:
        self.recorded.append((name, value))

    def level(self, name: str, value: float) -> None:
        self.recorded.append((name, value))

    def total(self, name: str) -> float:
        return sum(value for recorded, value in self.recorded if recorded == name)

    def names(self) -> set[str]:
        """The metrics recorded with a value other than 0 (what the adapter publishes, levels aside)."""
        return {name for name, value in self.recorded if value}


@dataclass
class FakePorts:
    """One of each fake, sharing a latency and a call recorder."""

    api_keys: FakeApiKeys
    billing: FakeBilling
    analytics: FakeAnalytics
    accounts: FakeAccounts
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    key_items: FakeKeyItems = field(default_factory=FakeKeyItems)
    reconciler_runs: FakeReconcilerRuns = field(default_factory=FakeReconcilerRuns)
    key_pools: FakeKeyPools = field(default_factory=FakeKeyPools)

    @classmethod
    def create(cls, *, latency: float = 0.0, recorder: CallRecorder | None = None) -> FakePorts:
        options = {"latency": latency, "recorder": recorder}
        return cls(
            FakeApiKeys(**options),
            FakeBilling(**options),
            FakeAnalytics(**options),
            FakeAccounts(**options),
            key_items=FakeKeyItems(**options),
            key_pools=FakeKeyPools(**options),
        )

    def can_call(self, key: str, now: float | None = None) -> bool:
        """What the stage decides for a call presenting `key`: the authorizer's rule on the key's item
        (the key active, or rotating out before its grace end; the account's status one that may call),
        then API Gateway's on the usage key the item names (enabled, in a usage plan)."""
        item = self.key_items.items.get(key_hash(key))
        if item is None or not item_allows(
            item.state.value, item.not_after, item.account_status, time.time() if now is None else now
        ):
            return False
        usage_key = next(
            (key_id for key_id, held in self.api_keys.keys.items() if held["value"] == item.usage_key), None
        )
        return usage_key is not None and self.api_keys.can_call_api(usage_key)

    def all(self) -> tuple[FaultyFake, ...]:
        return (self.api_keys, self.billing, self.analytics, self.accounts, self.key_items)
