"""The upgrade to Tollgate-issued keys (issue 20) for accounts made before it (`make migrate-keys`).

Before issue 20 the key a customer held WAS an API Gateway key: its value is in the customer's
clients. Since then the stage's authorizer resolves a presented key by its SHA-256 in the keys table,
so those clients keep working only once their key values are there. For each such row this:

- gives the row an account id (contract.ACCOUNT_ID_PREFIX: what the authorizer answers as
  principalId, never the email);
- makes the row's current API Gateway key (`apiKeyId`) the account's usage key: its value is
  recorded (`usageKey`) for the authorizer to name; it stays in its usage plan, with its quota;
- imports every key of the row that can still call (the current one, one rotating out) as a key
  record with the hash of its value, the same state and grace end, and the API Gateway key it came
  from (tollgate.domain.key_ring.KeyRecord.gateway_key_id: ended later, that API Gateway key is
  deleted, unless it is the usage key); ended keys are kept as they are (nothing to resolve);
- writes the row (conditional on the version read), then the items (tollgate.domain.key_items).

Idempotent: a row whose keys are all imported is left alone (`done`), and a run cut off between the
row and its items stores the missing items on the next run. A key API Gateway no longer holds is
reported and recorded `retired` (it could not have called anyway).
Nothing here prints or stores a key value: only hashes, ids and hints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace

from tollgate.domain.account import Account, AccountStatus, new_account_id
from tollgate.domain.account_store import change_account
from tollgate.domain.api_key_format import key_hash, key_hint
from tollgate.domain.customer_access import KeyRetirement
from tollgate.domain.errors import ConcurrentUpdate, KeyNotFound
from tollgate.domain.key_items import KeyItem, key_id_of
from tollgate.domain.key_ring import KeyRecord, KeyState
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.customer_access import CustomerAccess
from tollgate.domain.ports.keys import ApiKeys, KeyItems

# Rows whose keys may call again or still do; pending and failed rows hold no key a customer has.
MIGRATED_STATUSES = (
    AccountStatus.ACTIVE,
    AccountStatus.SUSPENDED,
    AccountStatus.AWAITING_PAYMENT_METHOD,
    AccountStatus.CANCELED,
)

DONE, IMPORTED, WOULD_IMPORT = "done", "imported", "would import"


@dataclass(frozen=True)
class RowMigration:
    """What the run did (or, in a dry run, would do) to one row."""

    email: str
    outcome: str  # DONE, IMPORTED or WOULD_IMPORT
    imported: tuple[str, ...] = ()  # "<API Gateway key id> -> <key id> (...<hint>)"
    gone: tuple[str, ...] = ()  # API Gateway key ids no longer there (recorded retired, not imported)


class KeyMigration:
    def __init__(
        self,
        accounts: Accounts,
        api_keys: ApiKeys,
        key_items: KeyItems,
        access: CustomerAccess,
        clock: Callable[[], float] = time.time,
    ):
        self._clock = clock
        self._accounts = accounts
        self._api_keys = api_keys
        self._items = key_items
        self._access = access

    def rows(self) -> list[Account]:
        return self._accounts.list_by_status(*MIGRATED_STATUSES)

    def migrate(self, account: Account, *, apply: bool) -> RowMigration:
        """Import `account`'s keys (only say what would be imported unless `apply`)."""
        pending = [record for record in account.key_records if record.exists and record.key_hash is None]
        if not pending and account.account_id and (account.usage_key or not account.existing_key_ids):
            if apply:  # a run cut off after the row write left these out
                self._store_items(account)
                self._move_reminders(account)
            return RowMigration(account.email, DONE)
        imported, gone, values = [], [], {}
        for record in pending:
            try:
                values[record.id] = self._api_keys.key_value(record.id)
            except KeyNotFound:
                gone.append(record.id)
                continue
            digest = key_hash(values[record.id])
            imported.append(f"{record.id} -> {key_id_of(digest)} (...{key_hint(values[record.id])})")
        if not apply:
            return RowMigration(account.email, WOULD_IMPORT, tuple(imported), tuple(gone))
        usage_value = values.get(account.api_key_id or "") or self._usage_key_value(account)
        now = int(self._clock())

        def migrated(row: Account) -> Account:
            records = tuple(
                _imported(record, values[record.id])
                if record.key_hash is None and record.id in values
                else replace(record, state=KeyState.RETIRED, until=now)
                if record.id in gone
                else record
                for record in row.key_records
            )
            changed = row.with_keys_imported(records).with_account_id(row.account_id or new_account_id())
            if usage_value and row.api_key_id:
                changed = changed.with_usage_key(IssuedKey(row.api_key_id, usage_value))
            return changed

        stored = change_account(self._accounts, account.email, migrated) or account
        self._store_items(stored)
        self._move_reminders(stored)
        return RowMigration(account.email, IMPORTED, tuple(imported), tuple(gone))

    def _usage_key_value(self, account: Account) -> str | None:
        if account.usage_key or not account.api_key_id:
            return account.usage_key
        try:
            return self._api_keys.key_value(account.api_key_id)
        except KeyNotFound:
            return None  # deleted (a canceled account past its retention): nothing will call with it

    def _store_items(self, account: Account) -> None:
        for record in account.key_records:
            if record.key_hash is None or not record.exists or self._items.get(record.key_hash) is not None:
                continue
            with suppress(ConcurrentUpdate):  # stored meanwhile by a run alongside: the same item
                self._items.put(KeyItem.of(account, record))

    def _move_reminders(self, account: Account) -> None:
        """The key retirement finds a rotating-out key by its record's id, which the import changed:
        its reminder moves to the new id."""
        for record in account.key_records:
            if record.gateway_key_id and record.until and record.exists and record.id != record.gateway_key_id:
                self._access.remind_retirement(KeyRetirement(record.id, account.email, record.until))
                self._access.forget_retirement(record.gateway_key_id)


def _imported(record: KeyRecord, value: str) -> KeyRecord:
    digest = key_hash(value)
    return replace(record, id=key_id_of(digest), hint=key_hint(value), key_hash=digest, gateway_key_id=record.id)
