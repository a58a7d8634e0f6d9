"""An account's API keys over its life: rotation with overlap, revocation, retirement.

- `rotate` creates a new key (owner tag, the account's usage plan) and shows it once; the key before
  it keeps working for the grace period (`key_rotation_grace_hours`), so a customer can deploy the new
  one without downtime. A lost key is recovered the same way: sign in, rotate. One rotation is one
  CreateApiKey (API Gateway allows 5 a second per account), and an account holds at most
  MAX_EXISTING_KEYS keys, so nobody can mint keys towards the region's 10,000.
- The new key is put in the state the account's status gives every key (in the plan and enabled
  while active, disabled and in the plan while suspended, out of the plan while awaiting a payment
  method) BEFORE it is recorded, and nobody holds its value until this returns, so it is never
  usable unrecorded.
  The record is written only if the row is still the version read (tollgate.domain.account);
  otherwise the new key is deleted and the customer asked to try again. Every writer's write is
  conditional on that version, so a status or plan change never misses a key, and the keys are then
  made to follow the row (tollgate.domain.key_enforcement), the new one included.
- Both keys bill the same customer: the usage reporter finds the account from either key id
  (Accounts.find_by_api_key_id). The new key's Moesif user belongs to the same company (the
  subscription), as the first key's does.
- The new key starts with the quota the account has left, not a whole one: API Gateway counts a
  quota per key, so the rotation reads what the current key has left of this quota period (GetUsage)
  and gives the new key exactly that (UpdateUsage `/remaining`) before anyone holds its value. While
  both keys live, each counts its own calls (docs/customer-accounts.md says what that allows).
  Should the carry-over fail, the rotation fails like any other step: the new key is deleted and the
  customer asked to try again, so no key ever exists with a quota the account did not have.
- `revoke` ("Revoke now") ends a rotated-out key at once, for a leaked key; the current key cannot be
  revoked (rotate first). `retire_due` (the scheduled job) ends every key whose grace is over.
  Ending a key disables it, then deletes it, then records it; each step is idempotent (a key that is
  gone is ended already), so a run that failed half-way is finished by the next one, and the
  reminder is dropped only once the row says the key ended.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.domain.account import SIGNUP_KEY_NAME_PREFIX, Account, AccountStatus, KeyState
from tollgate.domain.account_store import change_account
from tollgate.domain.customer_access import KeyRetirement
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, KeyChangeRefused
from tollgate.domain.models import IssuedKey
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.analytics import Analytics
from tollgate.domain.ports.customer_access import CustomerAccess
from tollgate.domain.ports.keys import ApiKeys, PlanUsage
from tollgate.plans import PlanCatalog

MAX_EXISTING_KEYS = 3  # the current key and two still rotating out
ROTATABLE_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.SUSPENDED, AccountStatus.AWAITING_PAYMENT_METHOD})
# Statuses whose keys are in the usage plan, so have used some of its quota (awaiting a payment
# method: no key has been in the plan yet, a new one rightly starts with the whole quota).
_IN_PLAN_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.SUSPENDED})


@dataclass(frozen=True)
class RetirementRun:
    """What one run of the scheduled key retirement did."""

    retired: int = 0  # keys disabled, deleted and recorded
    skipped: int = 0  # reminders of keys already ended or never rotated out (dropped)
    failed: int = 0  # keys to try again next run


class AccountKeys:
    def __init__(self, accounts: Accounts, api_keys: ApiKeys, analytics: Analytics, access: CustomerAccess,
                 plan_usage: PlanUsage, *, plans: PlanCatalog, grace_seconds: int,
                 clock: Callable[[], float] = time.time, new_id: Callable[[], str] = lambda: uuid.uuid4().hex):
        self._accounts = accounts
        self._keys = api_keys
        self._analytics = analytics
        self._access = access
        self._plans = plans
        self._plan_usage = plan_usage
        self.grace_seconds = grace_seconds
        self._clock = clock
        self._new_id = new_id

    def rotate(self, account: Account) -> IssuedKey:
        """A new current key for `account` (its value shown once); the previous one rotates out.
        Raises KeyChangeRefused (status, too many keys, the account changed meanwhile) or
        DownstreamError; on any failure the new key is deleted again."""
        if account.status not in ROTATABLE_STATUSES or account.api_key_id is None:
            raise KeyChangeRefused("This account's subscription has ended, so it cannot get a new key: sign up again.")
        if len(account.existing_key_ids) >= MAX_EXISTING_KEYS:
            raise KeyChangeRefused(f"This account already has {MAX_EXISTING_KEYS} keys: revoke a key that is rotating "
                                   "out, then rotate again.")
        now = int(self._clock())
        email_hash = hashlib.sha256(account.email.encode()).hexdigest()[:16]
        key = self._keys.create_key(f"{SIGNUP_KEY_NAME_PREFIX}{email_hash}-{self._new_id()}", "Tollgate key rotation")
        try:
            self._analytics.upsert_user(key.id, account.subscription_id or "", {
                "email": account.email, "first_name": account.first_name, "last_name": account.last_name})
            self._match_status(account, key.id)
            if account.status in _IN_PLAN_STATUSES:
                self._carry_quota(account, account.api_key_id, key.id, now)
            grace_until = now + self.grace_seconds
            self._access.remind_retirement(KeyRetirement(account.api_key_id, account.email, grace_until))
            # The new key was put in the state the row gives every key: keys that matched still do.
            self._accounts.update(_keeping_sync(account, account.with_rotated_key(key.id, now, grace_until)), account)
        except Exception as failure:
            self._delete_quietly(key.id)
            if isinstance(failure, ConcurrentUpdate):
                raise KeyChangeRefused("Your account changed while the key was being made; nothing changed: "
                                       "reload the page and try again.") from None
            raise
        return key

    def revoke(self, account: Account, key_id: str) -> Account:
        """End a rotated-out key of `account` now. Revoking an ended key again changes nothing.
        Raises KeyChangeRefused for the current key or a key the account does not have."""
        record = account.key(key_id)
        if record is None:
            raise KeyChangeRefused("This account has no key with this ID: reload the page to see its keys.")
        if key_id == account.api_key_id:
            raise KeyChangeRefused("This is your current key: rotate first, then revoke the old one.")
        if not record.exists:
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
                self._end(account, reminder.key_id, KeyState.DELETED)
                retired += 1
            except (DownstreamError, ConcurrentUpdate):
                failed += 1
        return RetirementRun(retired, skipped, failed)

    def _end(self, account: Account, key_id: str, state: KeyState) -> Account:
        self._keys.set_enabled(key_id, False)
        self._keys.delete_key(key_id)
        now = int(self._clock())

        def ended(row: Account) -> Account | None:
            record = row.key(key_id)
            if record is None or not record.exists:
                return None  # ended meanwhile (or the row is another account's now)
            return _keeping_sync(row, row.with_key_ended(key_id, state, now))

        stored = change_account(self._accounts, account.email, ended) or account
        self._access.forget_retirement(key_id)
        return stored

    def _match_status(self, account: Account, key_id: str) -> None:
        """Put a new key in the state every key of the account is in (LifecycleService): on its plan
        when active. A suspended account's keys are disabled but stay in the plan, so its new key
        joins the plan (disabled first, it cannot call) and can take over the quota left."""
        usage_plan_id = self._plans.get(account.plan_id).usage_plan_id
        if account.status is AccountStatus.ACTIVE:
            self._keys.attach_to_plan(key_id, usage_plan_id)
        elif account.status is AccountStatus.SUSPENDED:
            self._keys.set_enabled(key_id, False)
            self._keys.attach_to_plan(key_id, usage_plan_id)

    def _carry_quota(self, account: Account, current_key_id: str, new_key_id: str, now: int) -> None:
        """Give the new key what the current key has left of this quota period on the account's plan."""
        plan = self._plans.get(account.plan_id)
        today = datetime.fromtimestamp(now, UTC).date()
        left, _quota = self._plan_usage.quota_left(current_key_id, plan, today)
        self._plan_usage.set_quota_left(new_key_id, left, plan)

    def _delete_quietly(self, key_id: str) -> None:
        """Undo a rotation: the new key goes (deleting it also takes it out of the plan). Should the
        delete fail, the key is in no record and its value was never shown: the failed-accounts
        command finds it by name (tollgate.domain.cleanup.Cleanup.orphaned_keys)."""
        with suppress(DownstreamError):
            self._keys.delete_key(key_id)


def _keeping_sync(before: Account, after: Account) -> Account:
    """`after` (a key added in the right state, or one ended), saying its keys match when `before`'s did."""
    return after.with_keys_synced() if before.keys_in_sync else after
