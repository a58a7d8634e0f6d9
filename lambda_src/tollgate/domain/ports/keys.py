"""API Gateway: the keys and usage plans that throttle, count and cut off calls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.key_items import KeyItem
    from tollgate.domain.key_pools import KeyPool
    from tollgate.domain.models import IssuedKey, ListedKey
    from tollgate.plans import Plan


class ApiKeys(ABC):
    """API Gateway API keys and the usage plans (one per Tollgate plan) they are throttled by; a key is
    in one usage plan at a time."""

    @abstractmethod
    def create_key(self, name: str, description: str) -> IssuedKey:
        """Create an enabled key that cannot yet call the API (it is in no usage plan)."""

    @abstractmethod
    def delete_key(self, key_id: str) -> None:
        """Delete the key; deleting a key that no longer exists is not an error."""

    @abstractmethod
    def attach_to_plan(self, key_id: str, usage_plan_id: str) -> None:
        """Add the key to the usage plan: from now on it can call metered routes, with its limits.
        Adding it again is not an error; KeyNotFound when the key no longer exists."""

    @abstractmethod
    def detach_from_plan(self, key_id: str, usage_plan_id: str) -> None:
        """Remove the key from the usage plan; a key not in the plan is not an error."""

    @abstractmethod
    def set_enabled(self, key_id: str, enabled: bool) -> None:
        """Enable or disable the key (billing lifecycle: non-payers are cut off). Disabling a key that
        no longer exists is not an error (it is ended already), so ending a key or cutting an account off
        can always be finished by whoever comes next; enabling one is (KeyNotFound)."""

    @abstractmethod
    def key_value(self, key_id: str) -> str:
        """The key's value (the usage key's, for the authorizer to name; a key from before issue 20's,
        to import its hash). KeyNotFound when the key is gone."""

    @abstractmethod
    def keys_named(self, prefix: str) -> list[ListedKey]:
        """This deployment's keys whose name starts with `prefix` (without values)."""

    @abstractmethod
    def count_in_region(self) -> int:
        """Every API key of the account in this region, any API's: what API Gateway's quota of
        contract.API_KEYS_PER_REGION counts. One call per 500 keys."""


class KeyPools(ABC):
    """Where the pooled plans' shard keys are recorded (tollgate.domain.key_pools): id and value of
    each, so a sign-up names its shard's value with one read."""

    @abstractmethod
    def get(self, plan_id: str) -> KeyPool | None:
        """The plan's recorded shards (None: none yet)."""

    @abstractmethod
    def record_shard(self, plan_id: str, shard: int, key: IssuedKey) -> IssuedKey:
        """Record `key` as the shard's key unless one is recorded already; the key recorded either way
        (a shard's key, once recorded, never changes)."""


class KeyItems(ABC):
    """The keys table (tollgate.domain.key_items): a Tollgate key's hash -> its account, state and the
    copy of the account row the authorizer decides from. Never holds a key itself."""

    @abstractmethod
    def put(self, item: KeyItem) -> None:
        """Store a new key's item. Raises ConcurrentUpdate when an item has that hash already (never
        written over: the chance of a collision of 256 random bits is nil, a replay is a bug)."""

    @abstractmethod
    def get(self, key_hash: str) -> KeyItem | None:
        """The item of a hash, if any (an eventually consistent read is enough: items change only
        by writers that also invalidate nothing, and the authorizer caches answers anyway)."""

    @abstractmethod
    def follow(self, item: KeyItem) -> bool:
        """Write `item`'s state and account copy over the stored item, only if one is stored with no
        newer copy (its account_version at most `item.account_version`). False when nothing was
        written: no such item (never stored, or removed), or a newer copy is there."""

    @abstractmethod
    def delete(self, key_hash: str) -> None:
        """Remove the item (a sign-up or rotation undoing itself); removing a missing one is not an error."""


class PlanUsage(ABC):
    """API Gateway's usage plans' counts (GetUsage): per key and UTC day, and the quota left."""

    @abstractmethod
    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        """Calls each key made from `first_day` to `last_day`, both included (UTC days), on every plan."""

    @abstractmethod
    def quota_left(self, key_id: str, plan: Plan, day: date) -> tuple[int, int]:
        """(calls left, the quota) of the key's current quota period on `plan`'s usage plan, as of `day`."""
