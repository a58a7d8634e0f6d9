"""The keys a customer holds over the account's life: rotation with overlap, revocation, retirement.

The customer's keys are Tollgate keys (tollgate.domain.key_items): each is an item of the keys table,
found by its hash, and the account's quota and throttle belong to its one API Gateway usage key,
which none of this touches. So rotating, revoking and retiring are writes to the keys table and the
account row only: they make no API Gateway call, cannot half-fail there, and can never change how
many calls the account has left (issue 20: five rotate/spend/revoke cycles used to give five quotas).

- `rotate` issues a new key and shows it once; the key before it keeps working for the grace period
  (`key_rotation_grace_hours`), so a customer can deploy the new one without downtime. A lost key is
  recovered the same way: sign in, rotate. An account holds at most MAX_EXISTING_KEYS keys that can call.
- The new key's item is stored BEFORE the row records it, with the copy of the row the write will
  store, and nobody holds its value until this returns, so it is never usable unrecorded; should the
  row write fail (it is conditional on the version read: tollgate.domain.account), the item is
  removed and the customer asked to try again. The rotated-out key's item follows the row afterwards
  (tollgate.domain.key_enforcement): its grace end is written there.
- `revoke` ("Revoke now") ends a rotated-out key at once, for a leaked key; the current key cannot be
  revoked (rotate first). `retire_due` (the scheduled job) ends every key whose grace is over. Ending
  a key writes the row, then its item (revoked or retired, with a TTL); a key imported from before
  issue 20 also loses its own API Gateway key, unless that is the account's usage key. Each step is
  idempotent, so a run that failed half-way is finished by the next one (or by revoking again), and
  the reminder is dropped only once the row says the key ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.account_store import change_account
from tollgate.domain.customer_access import KeyRetirement
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, KeyChangeRefused
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.key_items import KeyIssuer, KeyItem
from tollgate.domain.key_ring import KeyState
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.customer_access import CustomerAccess
from tollgate.domain.ports.keys import ApiKeys, KeyItems

MAX_EXISTING_KEYS = 3  # the current key and two still rotating out
ROTATABLE_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.SUSPENDED, AccountStatus.AWAITING_PAYMENT_METHOD})


@dataclass(frozen=True)
class RetirementRun:
    """What one run of the scheduled key retirement did."""

    retired: int = 0  # keys recorded retired
    skipped: int = 0  # reminders of keys already ended or never rotated out (dropped)
    failed: int = 0  # keys to try again next run


class AccountKeys:
    def __init__(
        self,
        accounts: Accounts,
        key_items: KeyItems,
        access: CustomerAccess,
        enforcer: KeyEnforcer,
        api_keys: ApiKeys,
        *,
        issuer: KeyIssuer,
        grace_seconds: int,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._items = key_items
        self._access = access
        self._enforcer = enforcer
        self._api_keys = api_keys  # only to delete an imported key's own API Gateway key when it ends
        self._issuer = issuer
        self.grace_seconds = grace_seconds
        self._clock = clock

    def rotate(self, account: Account) -> IssuedKey:
        """A new current key for `account` (its value shown once, its id the key id); the previous one
        rotates out. Raises KeyChangeRefused (status, too many keys, the account changed meanwhile) or
        DownstreamError; on any failure the new key's item is removed again."""
        current = account.current_key
        if account.status not in ROTATABLE_STATUSES or current is None:
            raise KeyChangeRefused("This account's subscription has ended, so it cannot get a new key: sign up again.")
        if account.usage_key is None:
            raise KeyChangeRefused("This account's keys are being upgraded: try again in a few minutes.")
        if len(account.existing_key_ids) >= MAX_EXISTING_KEYS:
            raise KeyChangeRefused(
                f"This account already has {MAX_EXISTING_KEYS} keys: revoke a key that is rotating "
                "out, then rotate again."
            )
        now = int(self._clock())
        key, record = self._issuer.issue(now)
        grace_until = now + self.grace_seconds
        rotated = account.with_rotated_key(record, grace_until)
        self._items.put(KeyItem.of(replace(rotated, version=account.version + 1), record))
        try:
            self._access.remind_retirement(KeyRetirement(current.id, account.email, grace_until))
            stored = self._accounts.update(rotated, account)
        except Exception as failure:
            self._remove_quietly(record.key_hash)
            if isinstance(failure, ConcurrentUpdate):
                raise KeyChangeRefused(
                    "Your account changed while the key was being made; nothing changed: reload the page and try again."
                ) from None
            raise
        # The new key works already should this fail: the old one's item still says `active` until the
        # next writer, or the retirement at its grace end, copies the row onto it (the row says it is not in step).
        with suppress(DownstreamError):
            self._enforcer.enforce(stored)
        return key

    def revoke(self, account: Account, key_id: str) -> Account:
        """End a rotated-out key of `account` now. Revoking an ended key again changes nothing but
        finishes what an earlier revocation left undone. Raises KeyChangeRefused for the current key
        or a key the account does not have; DownstreamError when its item could not be written (the
        customer revokes again)."""
        record = account.key(key_id)
        if record is None:
            raise KeyChangeRefused("This account has no key with this ID: reload the page to see its keys.")
        if record == account.current_key:
            raise KeyChangeRefused("This is your current key: rotate first, then revoke the old one.")
        if not record.exists:
            self._enforcer.enforce(account)
            return account
        return self._end(account, key_id, KeyState.REVOKED)

    def retire_due(self) -> RetirementRun:
        """End every rotated-out key whose grace is over (the scheduled job). A failure is counted and
        retried next run; it never stops the others."""
        now = int(self._clock())
        retired = skipped = failed = 0
        for reminder in self._access.due_retirements(now):
            account = self._accounts.get(reminder.email)
            record = account.key(reminder.key_id) if account else None
            if account is None or record is None or record.state is not KeyState.ROTATING_OUT:
                self._access.forget_retirement(reminder.key_id)
                skipped += 1
                continue
            if (record.until or 0) > now:
                continue
            try:
                self._end(account, reminder.key_id, KeyState.RETIRED)
                retired += 1
            except (DownstreamError, ConcurrentUpdate):
                failed += 1
        return RetirementRun(retired, skipped, failed)

    def _end(self, account: Account, key_id: str, state: KeyState) -> Account:
        record = account.key(key_id)
        gateway_key_id = record.own_gateway_key_id if record else None
        if gateway_key_id and gateway_key_id != account.api_key_id:  # imported from before issue 20
            self._api_keys.set_enabled(gateway_key_id, False)
            self._api_keys.delete_key(gateway_key_id)
        now = int(self._clock())

        def ended(row: Account) -> Account | None:
            record = row.key(key_id)
            if record is None or not record.exists:
                return None  # ended meanwhile (or the row is another account's now)
            return row.with_key_ended(key_id, state, now)

        stored = change_account(self._accounts, account.email, ended) or account
        self._enforcer.enforce(stored)
        self._access.forget_retirement(key_id)
        return self._accounts.get(account.email) or stored

    def _remove_quietly(self, key_hash: str | None) -> None:
        """Undo a rotation: the new key's item goes. Should that fail, the key is in no record and its
        value was never shown: nobody can present it."""
        try:
            if key_hash is not None:
                self._items.delete(key_hash)
        except DownstreamError:
            pass
