"""The keys a customer holds or held, as the account row records them: a small value object
(issue 19: the row's parts as value objects), so the account row (tollgate.domain.account) says
what a change is for and this module how the keys change.

The values are never here (nothing stores a key's value): each record is the key's id, hint, state
and dates, and its hash, which is the key of its item in the keys table (tollgate.domain.key_items).
Ended records (revoked, retired) are kept as long as their items (contract.ENDED_KEY_RETENTION_SECONDS:
the account page lists them, the usage reporter still finds their customer) and pruned after, so a
row that rotates for years stays far below DynamoDB's 400 KB.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from tollgate import contract


class KeyState(StrEnum):
    """Where one of an account's keys is in its life (the values are the keys table's, contract.KEY_STATES):
    the current key is `active`; a rotated one is `rotating_out` (it keeps working until its record's
    `until`), then `retired` by the scheduled key retirement, or `revoked` at once by the customer
    ("Revoke now"). Rows written before issue 20 say `deleted` for `retired` (read as `retired`)."""

    ACTIVE = "active"
    ROTATING_OUT = "rotating_out"
    REVOKED = "revoked"
    RETIRED = "retired"

    @classmethod
    def _missing_(cls, value: object) -> KeyState | None:
        return cls.RETIRED if value == "deleted" else None


@dataclass(frozen=True)
class KeyRecord:
    """One key the customer holds (or held), without its value (nothing stores a key value).

    A Tollgate key (tollgate.domain.api_key_format) has a `key_hash`, the key of its item in the keys
    table; its `id` is the start of that hash (tollgate.domain.key_items.key_id_of). A key imported by
    `make migrate-keys` from before issue 20 was an API Gateway key's value: it has a hash too, and
    `gateway_key_id` names that API Gateway key (deleted when the key ends, unless it is the account's
    usage key). A record without a hash is a row's API Gateway key from before the migration (`id`
    is the API Gateway key id)."""

    id: str
    created_at: int  # epoch seconds
    state: KeyState = KeyState.ACTIVE
    until: int | None = None  # rotating_out: when the grace ends; revoked/retired: when it ended
    hint: str = ""  # the key's last four characters (tollgate.domain.api_key_format.key_hint)
    key_hash: str | None = None
    gateway_key_id: str | None = None

    @property
    def exists(self) -> bool:
        """Still a key that can call (not revoked or retired yet)."""
        return self.state in (KeyState.ACTIVE, KeyState.ROTATING_OUT)

    def callable_at(self, now: float) -> bool:
        """Whether the key works at `now` (while the account may call): the current key, or a rotated
        one still within its grace (the authorizer decides the same from the key's item)."""
        return self.state is KeyState.ACTIVE or (self.state is KeyState.ROTATING_OUT and (self.until or 0) > now)

    @property
    def own_gateway_key_id(self) -> str | None:
        """The API Gateway key this record is (a row from before the migration) or was imported from."""
        return self.gateway_key_id if self.key_hash is not None else self.id

    def forgotten_at(self, now: float) -> bool:
        """An ended key whose item the keys table's TTL has removed: the row need not keep it either."""
        return not self.exists and (self.until or 0) + contract.ENDED_KEY_RETENTION_SECONDS <= now


@dataclass(frozen=True)
class KeyRing:
    """An account's key records, oldest first; every change returns a new ring."""

    records: tuple[KeyRecord, ...] = ()

    def key(self, key_id: str) -> KeyRecord | None:
        return next((record for record in self.records if record.id == key_id), None)

    @property
    def current(self) -> KeyRecord | None:
        """The key the customer uses now (the newest `active` one)."""
        return next((record for record in reversed(self.records) if record.state is KeyState.ACTIVE), None)

    @property
    def existing_ids(self) -> tuple[str, ...]:
        """The keys that can still call (to count them, or end them), the current one first."""
        current = self.current
        records = sorted(self.records, key=lambda record: record is not current)
        return tuple(record.id for record in records if record.exists)

    @property
    def live_gateway_key_ids(self) -> tuple[str, ...]:
        """API Gateway keys of records from before issue 20 that have not ended."""
        return tuple(
            gateway_id for record in self.records if record.exists and (gateway_id := record.own_gateway_key_id)
        )

    @property
    def target(self) -> str:
        """Every key with its state and dates: what the keys table's items must say (part of
        tollgate.domain.account.Account.key_target)."""
        return ",".join(f"{record.id}:{record.state.value}:{record.until or ''}" for record in self.records)

    def rotated(self, record: KeyRecord, grace_until: int, now: int) -> KeyRing:
        """`record` becomes the current key; the one before keeps working until `grace_until`."""
        current = self.current
        records = tuple(
            replace(old, state=KeyState.ROTATING_OUT, until=grace_until) if old is current else old
            for old in self.records
        )
        return KeyRing((*records, record)).pruned(now)

    def ended(self, key_id: str, state: KeyState, at: int) -> KeyRing:
        """The key `key_id` revoked or retired at `at`."""
        return KeyRing(
            tuple(replace(record, state=state, until=at) if record.id == key_id else record for record in self.records)
        ).pruned(at)

    def all_retired(self, at: int) -> KeyRing:
        """Every key that could still call retired at `at` (a canceled account's keys are deleted)."""
        return KeyRing(
            tuple(
                replace(record, state=KeyState.RETIRED, until=at) if record.exists else record
                for record in self.records
            )
        ).pruned(at)

    def pruned(self, now: float) -> KeyRing:
        """Without the ended keys whose items are gone (KeyRecord.forgotten_at)."""
        return KeyRing(tuple(record for record in self.records if not record.forgotten_at(now)))
