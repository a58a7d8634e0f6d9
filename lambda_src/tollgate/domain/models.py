"""Value objects of the domain: who registers, what they were issued, and the account ledger."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum


@dataclass(frozen=True)
class Registrant:
    """A validated, normalised sign-up request."""

    email: str  # trimmed and case-folded
    first_name: str
    last_name: str
    plan_id: str | None = None  # the plan chosen (tollgate.plans); None: the default plan


# Every key a sign-up creates is named `tollgate-<email hash>-<attempt id>`: a key no account row
# records is found by this prefix (tollgate.domain.cleanup.Cleanup.orphaned_keys).
SIGNUP_KEY_NAME_PREFIX = "tollgate-"
# A `pending` row's lease: longer than the register function's timeout, so a live attempt never
# loses its reservation; short enough that a crashed attempt frees the email within minutes.
RESERVATION_LEASE_SECONDS = 120


@dataclass(frozen=True)
class IssuedKey:
    """An API Gateway key as created. `value` is secret: it goes to the caller and nowhere else."""

    id: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class ListedKey:
    """An API Gateway key as listed: no value, only what tells whether anything still owns it."""

    id: str
    name: str
    created_at: int  # epoch seconds


class AccountStatus(str, Enum):
    """Where an account is in its life. `pending` rows carry a lease so a crash cannot block
    an email forever; `failed` rows are those a rollback could not fully undo; `suspended` ones
    owe money (their key is disabled until they pay); `canceled` ones ended for good (a new
    sign-up with the same email starts a new account)."""

    PENDING = "pending"
    ACTIVE = "active"
    AWAITING_PAYMENT_METHOD = "awaiting_payment_method"
    SUSPENDED = "suspended"
    CANCELED = "canceled"
    FAILED = "failed"


class KeyState(str, Enum):
    """Where one of an account's API keys is in its life: the current key is `active`; a rotated one
    is `rotating_out` (it keeps working until its record's `until`), then `deleted` by the scheduled
    key retirement, or `revoked` at once by the customer ("Revoke now")."""

    ACTIVE = "active"
    ROTATING_OUT = "rotating_out"
    REVOKED = "revoked"
    DELETED = "deleted"


@dataclass(frozen=True)
class KeyRecord:
    """One API key of an account, without its value (nothing stores a key value)."""

    id: str
    created_at: int  # epoch seconds
    state: KeyState = KeyState.ACTIVE
    until: int | None = None  # rotating_out: when the grace ends; revoked/deleted: when it ended

    @property
    def exists(self) -> bool:
        """Still a key in API Gateway (not revoked or deleted yet)."""
        return self.state in (KeyState.ACTIVE, KeyState.ROTATING_OUT)

    def callable_at(self, now: float) -> bool:
        """Whether the key should work at `now` (while the account is billable): the current key,
        or a rotated one still within its grace."""
        return self.state is KeyState.ACTIVE or (self.state is KeyState.ROTATING_OUT and (self.until or 0) > now)


HISTORY_LIMIT = 20  # an account keeps its latest status changes only: DynamoDB items are capped at 400 KB


@dataclass(frozen=True)
class StatusChange:
    """One entry of an account's history: what the status became, when, and why. Every writer
    (sign-up, rollback, billing events) records this one shape."""

    at: int  # epoch seconds
    status: AccountStatus
    cause: str  # "sign-up", "rollback", a Stripe event type, ...
    event_id: str | None = None  # the Stripe event behind the change, if one was


@dataclass(frozen=True)
class PlanChange:
    """An account moved from one plan to another at `at`: calls before it are billed on the old plan's
    price, calls from it on the new one's (the usage reporter asks `Account.plan_at`)."""

    at: int  # epoch seconds
    from_plan: str | None  # None: the default plan of a row from before plans
    to_plan: str
    cause: str  # "account page", "checkout", a Stripe event type, "reconcile"


@dataclass(frozen=True)
class Account:
    """One row of the accounts table: the ledger of every id created for one email.

    Immutable: every change is a method that returns the changed row, so a row read from the
    table is never altered behind the writer's back and each change says what it is for."""

    email: str
    status: AccountStatus
    first_name: str = ""
    last_name: str = ""
    plan_id: str | None = None  # tollgate.plans: the plan the key is on; None (rows from before plans): the default
    api_key_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    # Recorded as the customer create starts: a rollback that never got the customer id (a timeout
    # or 5xx) repeats the create with it to learn the id (see tollgate.domain.cleanup).
    customer_idempotency_key: str | None = None
    lease_expires_at: int | None = None  # epoch seconds; only meaningful while pending
    attempt_id: str | None = None  # the registration attempt that owns the row (guards its writes)
    request_fingerprint: str | None = None  # hash of Idempotency-Key + body of the reserving request
    failure_reason: str | None = None
    created_at: int = 0
    updated_at: int = 0
    history: tuple[StatusChange, ...] = ()
    # The newest Stripe event applied to this row: replays and older, late events are recognised
    # by it (see tollgate.domain.lifecycle).
    last_billing_event_id: str | None = None
    last_billing_event_at: int = 0  # the event's `created`, epoch seconds
    # The status the API key was last made to match (enabled and in the plan for `active`, ...):
    # when it equals `status`, the key needs no management call (see LifecycleService).
    key_synced_for: AccountStatus | None = None
    cut_off_reason: str | None = None  # why a suspended or canceled account's key stopped working
    # The newest Checkout session whose completion was applied: the signup page, back from
    # Checkout, learns from it that its card was dealt with (see tollgate.domain.checkout).
    last_checkout_session_id: str | None = None
    # Every key the account has had (the current one is `api_key_id`). Rows written before key
    # records existed have none: `key_records` then describes their one key. `keys_revision` grows
    # with every change of the records, so a writer holding an older view of them loses its race.
    keys: tuple[KeyRecord, ...] = ()
    keys_revision: int = 0
    plan_changes: tuple[PlanChange, ...] = ()  # oldest first, capped like `history`
    pending_plan_id: str | None = None  # a change waiting for a card through Checkout

    @classmethod
    def reservation(cls, registrant: Registrant, *, attempt_id: str, request_fingerprint: str, now: int,
                    lease_seconds: int = RESERVATION_LEASE_SECONDS) -> Account:
        """The `pending` row that claims an email for one sign-up attempt, until its lease runs out."""
        return cls(
            email=registrant.email,
            status=AccountStatus.PENDING,
            first_name=registrant.first_name,
            last_name=registrant.last_name,
            plan_id=registrant.plan_id,
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

    @property
    def key_in_sync(self) -> bool:
        """The key already matches the status: enabling, disabling or attaching it again is not needed."""
        return self.key_synced_for is self.status

    def succeeding(self, canceled: Account, at: int) -> Account:
        """This sign-up's row taking over a canceled account of the same email: it keeps the
        earlier history, and names the earlier ids (the Stripe customer and its invoices stay)."""
        note = StatusChange(at, self.status, f"sign-up again after cancellation (earlier key {canceled.api_key_id}, "
                                             f"customer {canceled.customer_id}, subscription {canceled.subscription_id})")
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

    def with_api_key(self, api_key_id: str) -> Account:
        """The row with its (first) key recorded, created as the row was."""
        return replace(self, api_key_id=api_key_id, keys=(KeyRecord(api_key_id, self.created_at),))

    @property
    def key_records(self) -> tuple[KeyRecord, ...]:
        if self.keys or self.api_key_id is None:
            return self.keys
        return (KeyRecord(self.api_key_id, self.created_at),)

    def key(self, key_id: str) -> KeyRecord | None:
        return next((record for record in self.key_records if record.id == key_id), None)

    @property
    def existing_key_ids(self) -> tuple[str, ...]:
        """Keys API Gateway still holds for this account (to disable or delete)."""
        return tuple(record.id for record in self.key_records if record.exists)

    def callable_key_ids(self, now: float) -> tuple[str, ...]:
        """Keys that should work while the account is billable."""
        return tuple(record.id for record in self.key_records if record.callable_at(now))

    def with_rotated_key(self, new_key_id: str, at: int, grace_until: int) -> Account:
        """`new_key_id` becomes the current key; the one before keeps working until `grace_until`."""
        records = tuple(replace(record, state=KeyState.ROTATING_OUT, until=grace_until)
                        if record.id == self.api_key_id else record for record in self.key_records)
        return replace(self, api_key_id=new_key_id, keys=(*records, KeyRecord(new_key_id, at)))

    def with_key_ended(self, key_id: str, state: KeyState, at: int) -> Account:
        """The key `key_id` (not the current one) revoked or deleted at `at`."""
        return replace(self, keys=tuple(replace(record, state=state, until=at) if record.id == key_id else record
                                        for record in self.key_records))

    def with_customer(self, customer_id: str) -> Account:
        return replace(self, customer_id=customer_id)

    def with_customer_create(self, idempotency_key: str | None) -> Account:
        """Record (or, once the create is known to have made nothing, forget) the idempotency key of
        the customer create under way."""
        return replace(self, customer_idempotency_key=idempotency_key)

    def with_subscription(self, subscription_id: str) -> Account:
        return replace(self, subscription_id=subscription_id)

    def plan_at(self, at: float) -> str | None:
        """The plan the account was on at `at` (epoch seconds): what a call made then is billed on."""
        plan_id = self.plan_changes[0].from_plan if self.plan_changes else self.plan_id
        for change in self.plan_changes:
            if change.at > at:
                break
            plan_id = change.to_plan
        return plan_id

    def with_plan(self, plan_id: str, at: int, cause: str) -> Account:
        """On `plan_id` from `at` (and no longer waiting for a card to change plans); the key no
        longer matches until it is moved to that plan's usage plan."""
        change = PlanChange(at, self.plan_id, plan_id, cause)
        return replace(self, plan_id=plan_id, plan_changes=(*self.plan_changes, change)[-HISTORY_LIMIT:],
                       pending_plan_id=None, key_synced_for=None, updated_at=at)

    def with_pending_plan(self, plan_id: str | None) -> Account:
        return replace(self, pending_plan_id=plan_id)

    def with_cut_off_reason(self, reason: str | None) -> Account:
        return replace(self, cut_off_reason=reason)

    def with_checkout_session(self, session_id: str | None) -> Account:
        return replace(self, last_checkout_session_id=session_id)

    def is_stuck(self, now: int) -> bool:
        """A row nothing will finish: a rollback could not undo it (`failed`), or its sign-up died
        mid-way (`pending` past its lease). `make failed-accounts` lists and cleans these."""
        return self.status is AccountStatus.FAILED or (
            self.status is AccountStatus.PENDING and (self.lease_expires_at or 0) < now)

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

    def with_keys_deleted(self, at: int, cause: str) -> Account:
        """The canceled row once every key it still held is deleted: each key record says `deleted`
        (the ids stay, so late usage still finds the customer), the deletion is in the history, the
        status stays, and keys that no longer exist need no call to match it."""
        records = tuple(replace(record, state=KeyState.DELETED, until=at) if record.exists else record
                        for record in self.key_records)
        return replace(self.with_status(self.status, at, cause), keys=records, key_synced_for=self.status)

    def with_billing_event(self, event_id: str, created: int) -> Account:
        """Remember the newest applied Stripe event (an older one arriving later is stale)."""
        return replace(self, last_billing_event_id=event_id,
                       last_billing_event_at=max(created, self.last_billing_event_at))


@dataclass(frozen=True)
class Email:
    """A plain-text email to one address (sign-up confirmation, sign-in link, ...)."""

    to: str
    subject: str
    text: str


@dataclass(frozen=True)
class Registration:
    """What a successful sign-up hands back: the key (value included) and the billing ids."""

    key: IssuedKey
    customer_id: str
    subscription_id: str | None  # None: a free plan
    status: AccountStatus
    plan_id: str  # the plan signed up for (tollgate.plans): the key page says what applies to it


@dataclass(frozen=True)
class ReconcilerRun:
    """What one reconciler run did, kept in the accounts table for operators (`make status`) and
    for the next run, which resumes from `cursor` (None: from the newest subscription)."""

    started_at: int  # epoch seconds
    finished_at: int
    examined: int  # subscriptions compared with their account row
    repaired: int  # accounts whose row or key was brought in line with Stripe
    failed: int  # accounts that could not be repaired (logged with their ids)
    cursor: str | None = None  # the last subscription examined, when the listing was not finished
    stopped_by: str | None = None  # why the run ended before the listing did (time budget, a failing service)
    # The latest repairs, for operators: "<subscription id> -> <Stripe status>", the first REPAIRS_KEPT of
    # the latest run that repaired anything (this one, or an earlier one), made at `repairs_at`.
    repairs: tuple[str, ...] = ()
    repairs_at: int | None = None

    REPAIRS_KEPT = 10
    STOPPED_BY_TIME_BUDGET = "time budget"

    @property
    def complete(self) -> bool:
        """The run reached the end of Stripe's listing: the next one starts from the newest again."""
        return self.cursor is None and self.stopped_by is None

    @property
    def succeeded(self) -> bool:
        """No failing service stopped the run (running out of time is fine: the next run resumes)."""
        return self.stopped_by in (None, self.STOPPED_BY_TIME_BUDGET)
