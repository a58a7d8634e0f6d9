"""The account row: one per normalised email, the ledger of every id created for it, and the one
record every money decision is made from.

Six writers change it (sign-up, the billing lifecycle's webhook and reconciler, Checkout, plan
changes, key rotation and retirement, the housekeeping). Each reads the row, decides, and writes
only if the row still has the `version` it read (tollgate.domain.account_store.change_account);
the write increments it. A writer that loses the race reads again and decides again, so no
decision is ever made on a row someone else changed meanwhile, and nothing one writer decided is
written back over by another. The store writes only the attributes that differ from the row read
(tollgate.domain.ports.Accounts.update), so a writer changes only what it owns.

Immutable: every change is a method that returns the changed row and says what it is for.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, replace
from enum import StrEnum

from tollgate import contract
from tollgate.domain.billing_cursor import BillingCursor
from tollgate.domain.key_ring import KeyRecord, KeyRing, KeyState
from tollgate.domain.models import IssuedKey, Registrant
from tollgate.domain.plan_state import PlanChange, PlanIntent, PlanState, PlanTerm
from tollgate.domain.spend_control import AlertsSent, SpendSettings
from tollgate.domain.usage_limit import UsageLimit
from tollgate.plans import Plan

# Every key a sign-up creates is named `tollgate-<email hash>-<attempt id>`: a key no account row
# records is found by this prefix (tollgate.domain.cleanup.Cleanup.orphaned_keys).
SIGNUP_KEY_NAME_PREFIX = "tollgate-"
# A `pending` row's lease: longer than the register function's timeout, so a live attempt never
# loses its reservation; short enough that a crashed attempt frees the email within minutes.
RESERVATION_LEASE_SECONDS = 120
HISTORY_LIMIT = 20  # status changes kept (informational; DynamoDB items are capped at 400 KB)


class AccountStatus(StrEnum):
    """Where an account is in its life. `pending` rows carry a lease so a crash cannot block
    an email forever; `failed` rows are those a rollback could not fully undo; `suspended` ones
    owe money (their keys are disabled until they pay); `canceled` ones ended for good (a new
    sign-up with the same email starts a new account)."""

    PENDING = "pending"
    ACTIVE = "active"
    AWAITING_PAYMENT_METHOD = "awaiting_payment_method"
    SUSPENDED = "suspended"
    CANCELED = "canceled"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusChange:
    """One entry of an account's history: what the status became, when, and why. Every writer
    (sign-up, rollback, billing events) records this one shape."""

    at: int  # epoch seconds
    status: AccountStatus
    cause: str  # "sign-up", "rollback", a Stripe event type, ...
    event_id: str | None = None  # the Stripe event behind the change, if one was


@dataclass(frozen=True)
class AppliedEvent:
    """A Stripe event recorded with the row write that applied it, so it is applied once."""

    event_id: str
    remember_until: int  # epoch seconds: the record's TTL


@dataclass(frozen=True)
class Account:
    """One row of the accounts table (see the module docstring)."""

    email: str
    status: AccountStatus
    first_name: str = ""
    last_name: str = ""
    version: int = 0  # grows by one with every write (0: not written yet, or written before versions)
    plan_id: str | None = None  # tollgate.plans: the plan chosen; None (rows from before plans): the default
    price_id: str | None = None  # the Stripe price of `plan_id` when it was chosen (None: free, or not recorded)
    # The account's one API Gateway key, its USAGE KEY: created at sign-up, never shown, never rotated,
    # moved between usage plans with the plan, disabled when the account is cut off. The authorizer
    # names its value (`usage_key`) as usageIdentifierKey, so quota and throttle are the account's
    # whatever keys the customer holds; metering maps the access log's `apiKeyId` to the account by it.
    # The attribute keeps its name from before issue 20 (apiKeyId): a global secondary index is built
    # on it, and renaming it would replace the index.
    api_key_id: str | None = None
    usage_key: str | None = None  # the usage key's VALUE (not a customer credential); None once it is deleted
    # On a pooled plan (tollgate.domain.key_pools) the usage key is the account's shard's, shared: its id is
    # here, never in `api_key_id` (which then names its own key from a paid plan, if it had one), so
    # nothing ever disables, moves or deletes a shared key for one account.
    pool_key_id: str | None = None
    account_id: str | None = None  # opaque and stable (contract.ACCOUNT_ID_PREFIX): principalId, logs, Moesif
    customer_id: str | None = None
    subscription_id: str | None = None
    # Recorded as the customer create starts: a rollback that never got the customer id (a timeout
    # or 5xx) repeats the create with it to learn the id (see tollgate.domain.cleanup).
    customer_idempotency_key: str | None = None
    lease_expires_at: int | None = None  # epoch seconds; only meaningful while pending
    attempt_id: str | None = None  # the registration attempt that owns the row
    request_fingerprint: str | None = None  # hash of Idempotency-Key + body of the reserving request
    failure_reason: str | None = None
    created_at: int = 0
    updated_at: int = 0
    history: tuple[StatusChange, ...] = ()
    # The newest Stripe event applied to this row: replays and older, late events are recognised
    # by it (see tollgate.domain.lifecycle).
    last_billing_event_id: str | None = None
    last_billing_event_at: int = 0  # the event's `created`, epoch seconds
    # What the API keys were last made to match (`key_target`): when it equals the row's target now,
    # no key needs a management call. Derived, so a writer can never forget to say the keys no longer
    # match: any change of status, plan or key records changes the target.
    keys_synced_to: str | None = None
    cut_off_reason: str | None = None  # why a suspended or canceled account's keys stopped working
    # Since when the customer owes an open invoice (any subscription's, current or ended) that Stripe
    # already tried to collect: the account is suspended whatever its plan until it is paid.
    owes_since: int | None = None
    # The newest Checkout session whose completion was applied: the signup page, back from
    # Checkout, learns from it that its card was dealt with (see tollgate.domain.checkout).
    last_checkout_session_id: str | None = None
    # Every key the account has had (the current one is `api_key_id`). Rows written before key
    # records existed have none: `key_records` then describes their one key.
    keys: tuple[KeyRecord, ...] = ()
    plan_changes: tuple[PlanChange, ...] = ()  # oldest first, kept PLAN_HISTORY_SECONDS
    pending_plan_id: str | None = None  # a change waiting for a card (and any open invoice paid) through Checkout
    plan_intent: PlanIntent | None = None  # a change asked of Stripe and not yet recorded as done
    # Why the account's calls stop until its period ends (tollgate.domain.usage_limit); written only by
    # tollgate.domain.usage_limits, copied to the key items the authorizer reads.
    usage_limit: UsageLimit | None = None
    # Usage alerts and the spend cap (tollgate.domain.spend_control), one writer each: the customer's
    # choice (the account page) and the alerts emailed this period (the usage alerts' check).
    spend_settings: SpendSettings | None = None
    alerts_sent: AlertsSent | None = None

    @classmethod
    def reservation(
        cls,
        registrant: Registrant,
        plan: Plan,
        *,
        attempt_id: str,
        request_fingerprint: str,
        now: int,
        lease_seconds: int = RESERVATION_LEASE_SECONDS,
        account_id: str | None = None,
    ) -> Account:
        """The `pending` row that claims an email for one sign-up attempt, until its lease runs out."""
        return cls(
            email=registrant.email,
            status=AccountStatus.PENDING,
            account_id=account_id or new_account_id(),
            first_name=registrant.first_name,
            last_name=registrant.last_name,
            plan_id=plan.id,
            price_id=plan.price_id,
            lease_expires_at=now + lease_seconds,
            attempt_id=attempt_id,
            request_fingerprint=request_fingerprint,
            created_at=now,
            updated_at=now,
            history=(StatusChange(now, AccountStatus.PENDING, "sign-up"),),
        )

    @property
    def registrant(self) -> Registrant:
        return Registrant(self.email, self.first_name, self.last_name, self.plan_id)

    # --- status --------------------------------------------------------------------------------

    def succeeding(self, canceled: Account, at: int) -> Account:
        """This sign-up's row taking over a canceled account of the same email: it keeps the
        earlier history, and names the earlier ids (the Stripe customer and its invoices stay)."""
        note = StatusChange(
            at,
            self.status,
            f"sign-up again after cancellation (earlier key {canceled.api_key_id}, "
            f"customer {canceled.customer_id}, subscription {canceled.subscription_id})",
        )
        return replace(self, history=(*canceled.history, note)[-HISTORY_LIMIT:])

    def with_status(self, status: AccountStatus, at: int, cause: str, event_id: str | None = None) -> Account:
        """The row in `status`, with the change appended to its (capped) history. Only a pending
        row keeps its lease."""
        change = StatusChange(at, status, cause, event_id)
        return replace(
            self,
            status=status,
            updated_at=at,
            history=(*self.history, change)[-HISTORY_LIMIT:],
            lease_expires_at=self.lease_expires_at if status is AccountStatus.PENDING else None,
        )

    def failed(self, reason: str, at: int) -> Account:
        """The row kept as `failed`: a rollback or cleanup could not undo everything it records."""
        return replace(self.with_status(AccountStatus.FAILED, at, "rollback"), failure_reason=reason)

    def touched(self, at: int) -> Account:
        return replace(self, updated_at=at)

    def with_cut_off_reason(self, reason: str | None) -> Account:
        return replace(self, cut_off_reason=reason)

    @property
    def follow_up_since(self) -> int | None:
        """Since when the reconciler must look at this row again whatever Stripe's listings say: it owes
        an open invoice, or a plan change was asked of Stripe and not recorded as done."""
        moments = [
            moment
            for moment in (self.owes_since, self.plan_intent.at if self.plan_intent else None)
            if moment is not None
        ]
        return min(moments, default=None)

    def with_debt(self, since: int | None) -> Account:
        return self.with_billing(self.billing.owing(since))

    def is_stuck(self, now: int) -> bool:
        """A row nothing will finish: a rollback could not undo it (`failed`), or its sign-up died
        mid-way (`pending` past its lease). `make failed-accounts` lists and cleans these."""
        return self.status is AccountStatus.FAILED or (
            self.status is AccountStatus.PENDING and (self.lease_expires_at or 0) < now
        )

    def canceled_since(self) -> int | None:
        """When a canceled account was canceled: the first of the history's latest run of `canceled`
        entries (the row's last update when the capped history no longer shows it); None otherwise."""
        if self.status is not AccountStatus.CANCELED:
            return None
        since = self.updated_at
        for change in reversed(self.history):
            if change.status is not AccountStatus.CANCELED:
                break
            since = change.at
        return since

    # --- keys ----------------------------------------------------------------------------------

    @property
    def key_records(self) -> tuple[KeyRecord, ...]:
        """The keys the customer holds or held. A row from before key records (and before issue 20)
        has none: its one API Gateway key is described."""
        if self.keys or self.api_key_id is None or self.usage_key is not None:
            return self.keys
        return (KeyRecord(self.api_key_id, self.created_at),)

    @property
    def key_ring(self) -> KeyRing:
        return KeyRing(self.key_records)

    def key(self, key_id: str) -> KeyRecord | None:
        return self.key_ring.key(key_id)

    @property
    def current_key(self) -> KeyRecord | None:
        """The key the customer uses now (the newest `active` one)."""
        return self.key_ring.current

    @property
    def existing_key_ids(self) -> tuple[str, ...]:
        """The customer's keys that can still call (to count them, or end them), the current one first."""
        return self.key_ring.existing_ids

    def owns_gateway_key(self, gateway_key_id: str) -> bool:
        """The API Gateway key is (or was) this account's: its usage key, or a key of a record from
        before issue 20 (late usage of either is still this customer's)."""
        return gateway_key_id == self.api_key_id or any(
            record.own_gateway_key_id == gateway_key_id for record in self.key_records
        )

    @property
    def gateway_key_ids(self) -> tuple[str, ...]:
        """API Gateway keys API Gateway still holds for this account (to disable or delete), the usage
        key first: the usage key until it is deleted, and those of records from before issue 20."""
        usage_key = (self.api_key_id,) if self.api_key_id and self.usage_key is not None else ()
        return tuple(dict.fromkeys(usage_key + self.key_ring.live_gateway_key_ids))

    @property
    def key_target(self) -> str:
        """What the keys must look like for this row: the status, the plan and the usage key (API
        Gateway's part: `gateway_target`), then every key with its state (the keys table's items).
        The keys match the row when `keys_synced_to` is this; a usage limit in force is part of it (the
        items carry it) only while there is one, so rows without one keep the target they had."""
        limit = self.active_usage_limit
        return f"{self.gateway_target}|{self.key_ring.target}" + (f"|limit:{limit.target}" if limit else "")

    @property
    def gateway_target(self) -> str:
        """What API Gateway must hold for this row: the usage key, enabled in its plan's usage plan or not."""
        pool = f"|{self.pool_key_id}" if self.pool_key_id else ""  # (rows on keys of their own keep their target)
        return f"{self.status.value}|{self.plan_id or ''}|{self.api_key_id or ''}{pool}"

    @property
    def gateway_in_sync(self) -> bool:
        """API Gateway already matches the row (the keys table may not: rotation changes only that)."""
        return (self.keys_synced_to or "").startswith(self.gateway_target + "|")

    @property
    def keys_in_sync(self) -> bool:
        """The keys already match the row: enabling, disabling or moving them again is not needed."""
        return self.keys_synced_to == self.key_target

    def with_keys_synced(self) -> Account:
        return replace(self, keys_synced_to=self.key_target)

    @property
    def active_usage_limit(self) -> UsageLimit | None:
        """The usage limit, if it was decided on the plan the account is on now (a plan change ends it)."""
        limit = self.usage_limit
        return limit if limit is not None and limit.applies_to(self.plan_id or "") else None

    def with_usage_limit(self, limit: UsageLimit | None) -> Account:
        return replace(self, usage_limit=limit)

    def with_usage_key(self, usage_key: IssuedKey) -> Account:
        """The row with its own API Gateway usage key recorded (id and value)."""
        return replace(self, api_key_id=usage_key.id, usage_key=usage_key.value, pool_key_id=None)

    def with_pool_key(self, shard_key: IssuedKey) -> Account:
        """The row answered with its pool shard's key (a pooled plan). A key of its own from a paid plan
        stays recorded (tollgate.domain.key_enforcement), for its late usage and for the next change to a
        paid plan, which takes it back."""
        return replace(self, usage_key=shard_key.value, pool_key_id=shard_key.id)

    def usage_key_follows(self, plan: Plan) -> bool:
        """The row's usage key is the kind `plan` calls for: its shard's on a pooled plan, else its own."""
        if plan.pooled:
            return self.pool_key_id is not None
        return self.api_key_id is not None and self.pool_key_id is None and self.usage_key is not None

    def with_first_key(self, record: KeyRecord) -> Account:
        """The row with the customer's first key recorded."""
        return replace(self, keys=(record,))

    def with_account_id(self, account_id: str) -> Account:
        return replace(self, account_id=account_id)

    def with_rotated_key(self, record: KeyRecord, grace_until: int) -> Account:
        """`record` becomes the current key; the one before keeps working until `grace_until`."""
        return replace(self, keys=self.key_ring.rotated(record, grace_until, record.created_at).records)

    def with_keys_imported(self, records: tuple[KeyRecord, ...]) -> Account:
        """The row with its keys from before issue 20 replaced by their imported records (`make migrate-keys`)."""
        return replace(self, keys=records)

    def with_key_ended(self, key_id: str, state: KeyState, at: int) -> Account:
        """The key `key_id` (not the current one) revoked or retired at `at`."""
        return replace(self, keys=self.key_ring.ended(key_id, state, at).records)

    def with_keys_deleted(self, at: int, cause: str) -> Account:
        """The canceled row once its API Gateway keys are deleted: every key record says `retired`
        (the ids stay, so late usage still finds the customer), the usage key's value is forgotten
        (the key is gone), the deletion is in the history and the status stays."""
        return replace(
            self.with_status(self.status, at, cause), keys=self.key_ring.all_retired(at).records, usage_key=None
        )

    # --- billing (tollgate.domain.billing_cursor) ------------------------------------------------

    @property
    def billing(self) -> BillingCursor:
        return BillingCursor(
            self.customer_id,
            self.subscription_id,
            self.last_billing_event_id,
            self.last_billing_event_at,
            self.owes_since,
            self.last_checkout_session_id,
        )

    def with_billing(self, cursor: BillingCursor) -> Account:
        return replace(
            self,
            customer_id=cursor.customer_id,
            subscription_id=cursor.subscription_id,
            last_billing_event_id=cursor.last_event_id,
            last_billing_event_at=cursor.last_event_at,
            owes_since=cursor.owes_since,
            last_checkout_session_id=cursor.last_checkout_session_id,
        )

    def with_customer(self, customer_id: str) -> Account:
        return replace(self, customer_id=customer_id)

    def with_customer_create(self, idempotency_key: str | None) -> Account:
        """Record (or, once the create is known to have made nothing, forget) the idempotency key of
        the customer create under way."""
        return replace(self, customer_idempotency_key=idempotency_key)

    def with_subscription(self, subscription_id: str | None) -> Account:
        return replace(self, subscription_id=subscription_id)

    def with_checkout_session(self, session_id: str | None) -> Account:
        return replace(self, last_checkout_session_id=session_id)

    def with_billing_event(self, event_id: str, created: int) -> Account:
        """Remember the newest applied Stripe event (an older one arriving later is stale)."""
        return self.with_billing(self.billing.after_event(event_id, created))

    # --- plans (tollgate.domain.plan_state) ------------------------------------------------------

    @property
    def plan_state(self) -> PlanState:
        return PlanState(self.plan_id, self.price_id, self.plan_changes, self.pending_plan_id, self.plan_intent)

    def with_plan_state(self, state: PlanState) -> Account:
        return replace(
            self,
            plan_id=state.plan_id,
            price_id=state.price_id,
            plan_changes=state.changes,
            pending_plan_id=state.pending_plan_id,
            plan_intent=state.intent,
        )

    def plan_at(self, at: float) -> PlanTerm:
        """The plan (and the price recorded with it) the account was on at `at`: what a call made then is billed on."""
        return self.plan_state.term_at(at)

    def plan_changes_since(self, since: int) -> int:
        return self.plan_state.changes_since(since)

    def with_plan(self, plan: Plan, at: int, cause: str) -> Account:
        """On `plan` from `at`, no longer waiting for a card nor for Stripe to change plans (PlanState.changed_to)."""
        return replace(
            self.with_plan_state(self.plan_state.changed_to(plan.id, plan.price_id, at, cause)), updated_at=at
        )

    def with_pending_plan(self, plan_id: str | None) -> Account:
        return self.with_plan_state(self.plan_state.with_pending(plan_id))

    def with_plan_intent(self, intent: PlanIntent | None) -> Account:
        return self.with_plan_state(self.plan_state.with_intent(intent))


def new_account_id() -> str:
    """A fresh opaque account id: contract.ACCOUNT_ID_PREFIX + ACCOUNT_ID_LENGTH random base62 characters."""
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    return contract.ACCOUNT_ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(contract.ACCOUNT_ID_LENGTH))
