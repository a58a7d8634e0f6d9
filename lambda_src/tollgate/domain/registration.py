"""One sign-up = one API key, one Stripe customer and subscription, one Moesif user — or nothing.

The service talks to ports only. The account row is the ledger of every id created (rollback,
a later takeover of a crashed attempt and the operator's failed-accounts command all undo what
it records), and independent calls run concurrently so the critical path is four round trips:

    1. reserve the email          ‖ create the API key (in no usage plan yet: it cannot call)
    2. create the Stripe customer ‖ record the key id
    3. subscribe                  ‖ record the customer id
    4. Moesif company ‖ Moesif user ‖ attach the key to the usage plan ‖ record the final state

Attaching the key is the only step that lets it call the API, and it runs in the last stage,
once billing exists. Any failure undoes what was created, newest first, and releases the
reservation; an undo that fails leaves the row `failed` with every id and the reason. A Stripe
customer whose create timed out or failed with a 5xx may exist all the same: the rollback
repeats the create with its idempotency key to learn its id (see undo_recorded).

A key that no row records (the email turned out to be taken and deleting the key failed, or the
function died before stage 2 recorded its id) is found by its name: see orphaned_keys.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TypeVar

from tollgate.domain.errors import (
    ConcurrentUpdate,
    DownstreamError,
    EmailAlreadyRegistered,
    RegistrationInProgress,
)
from tollgate.domain.models import Account, AccountStatus, IssuedKey, ListedKey, Registrant, Registration
from tollgate.ports import Accounts, Analytics, ApiKeys, Billing

# Longer than the register function's timeout, so a live attempt never loses its reservation;
# short enough that a crashed attempt frees the email within minutes.
RESERVATION_LEASE_SECONDS = 120
CONCURRENT_CALLS = 4  # the widest stage
KEY_NAME_PREFIX = "tollgate-"  # every key a sign-up creates; orphaned_keys looks for it
_RESERVATION_TRIES = 3
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class _Undo:
    description: str
    action: Callable[[], None]
    covered_by: _Undo | None = None  # an undo whose success makes this one unnecessary


class RegistrationService:
    """Registers a Registrant across API Gateway, Stripe, Moesif and the accounts table."""

    def __init__(
        self,
        api_keys: ApiKeys,
        billing: Billing,
        analytics: Analytics,
        accounts: Accounts,
        *,
        require_payment_method: bool = False,
        lease_seconds: int = RESERVATION_LEASE_SECONDS,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
        new_attempt_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.api_keys = api_keys
        self.billing = billing
        self.analytics = analytics
        self.accounts = accounts
        self.require_payment_method = require_payment_method
        self.lease_seconds = lease_seconds
        self.executor = executor or ThreadPoolExecutor(CONCURRENT_CALLS, thread_name_prefix="register")
        self.clock = clock
        self.new_attempt_id = new_attempt_id

    def register(self, registrant: Registrant, request_fingerprint: str) -> Registration:
        """Create everything for `registrant`, or nothing.

        Raises EmailAlreadyRegistered (the email has an account or another sign-up is under
        way), RegistrationInProgress (this same request is still running elsewhere) or
        DownstreamError (a service failed; what was created is undone, or recorded on a
        `failed` row).
        """
        attempt = _Attempt(self, registrant, request_fingerprint)
        try:
            return attempt.run()
        except Exception as failure:
            attempt.roll_back(failure)
            raise

    def undo_recorded(self, account: Account, *, attached: bool = True) -> list[str]:
        """Undo every resource `account` records, newest first, trying each even when an
        earlier one fails; return the undos that failed (empty: nothing is left behind).

        A row with the customer create's idempotency key but no customer id never learned the
        outcome of that create (a timeout or 5xx, or the function died): the create is repeated
        with the same key and arguments, so Stripe answers with the customer it made then (it
        replays a key's result for 24 h) or makes it now; either way it is deleted, and its id
        written into `account`, so a row saved afterwards records it.

        An undo covered by another only counts as failed if that one fails too: a deleted key
        leaves every usage plan, a deleted customer's subscriptions are cancelled by Stripe. So
        a subscription whose create had an unknown outcome needs no undo of its own: the
        customer is always known by then. `attached=True` (the default, for rows whose progress
        is unknown) also removes the key from the usage plan.
        """
        key_id, customer_id, subscription_id = account.api_key_id, account.customer_id, account.subscription_id
        undos = []  # in creation order
        delete_key = delete_customer = None
        if key_id:
            delete_key = _Undo(f"delete API key {key_id}", lambda: self.api_keys.delete_key(key_id))
            undos.append(delete_key)
        if customer_id:
            delete_customer = _Undo(f"delete customer {customer_id}",
                                    lambda: self.billing.delete_customer(customer_id))
        elif account.customer_idempotency_key:
            delete_customer = _Undo(
                "find and delete the customer whose create had an unknown outcome "
                f"(idempotency key {account.customer_idempotency_key})",
                lambda: self._delete_customer_created_for(account),
            )
        if delete_customer:
            undos.append(delete_customer)
        if subscription_id:
            undos.append(_Undo(f"cancel subscription {subscription_id}",
                               lambda: self.billing.cancel_subscription(subscription_id), covered_by=delete_customer))
        if key_id and attached:
            undos.append(_Undo(f"detach API key {key_id}", lambda: self.api_keys.detach_from_plan(key_id),
                               covered_by=delete_key))
        failed: list[tuple[_Undo, str]] = []
        for undo in reversed(undos):
            try:
                undo.action()
            except Exception as error:  # noqa: BLE001 - every undo is tried whatever the previous one did
                failed.append((undo, f"{undo.description} ({error})"))
        failed_undos = [undo for undo, _ in failed]
        return [reason for undo, reason in failed if undo.covered_by is None or undo.covered_by in failed_undos]

    def now(self) -> int:
        return int(self.clock())

    def _delete_customer_created_for(self, account: Account) -> None:
        """Repeat `account`'s customer create exactly (same idempotency key and arguments) to learn
        the customer's id, then delete it."""
        registrant = Registrant(account.email, account.first_name, account.last_name)
        account.customer_id = self.billing.create_customer(
            registrant, account.api_key_id, account.customer_idempotency_key
        )
        self.billing.delete_customer(account.customer_id)


class _Attempt:
    """One run of the flow for one request: the row this attempt owns and what it created."""

    def __init__(self, service: RegistrationService, registrant: Registrant, fingerprint: str):
        self._service = service
        self._registrant = registrant
        self._id = service.new_attempt_id()
        self._email_hash = hashlib.sha256(registrant.email.encode()).hexdigest()[:16]
        now = service.now()
        self._row = Account(
            email=registrant.email,
            status=AccountStatus.PENDING,
            first_name=registrant.first_name,
            last_name=registrant.last_name,
            lease_expires_at=now + service.lease_seconds,
            attempt_id=self._id,
            request_fingerprint=fingerprint,
            created_at=now,
            updated_at=now,
            history=[_event(AccountStatus.PENDING, now)],
        )
        self._stored_status: AccountStatus | None = None  # None: this attempt owns no row
        self._attached = False

    def run(self) -> Registration:
        service, registrant = self._service, self._registrant
        key: IssuedKey = self._create(
            lambda: service.api_keys.create_key(
                f"{KEY_NAME_PREFIX}{self._email_hash}-{self._id}", f"Tollgate sign-up {self._id}"
            ),
            alongside=self._reserve,
            ledger_field="api_key_id",
            id_of=lambda issued: issued.id,
        )
        self._row.customer_idempotency_key = self._idempotency_key("customer")
        customer_id = self._create(
            lambda: service.billing.create_customer(registrant, key.id, self._row.customer_idempotency_key),
            alongside=self._record,
            ledger_field="customer_id",
            idempotency_field="customer_idempotency_key",
        )
        subscription_id = self._create(
            lambda: service.billing.subscribe(customer_id, self._idempotency_key("subscription")),
            alongside=self._record,
            ledger_field="subscription_id",
        )

        final_status = (
            AccountStatus.AWAITING_PAYMENT_METHOD if service.require_payment_method else AccountStatus.ACTIVE
        )
        self._row.status = final_status
        self._row.lease_expires_at = None
        self._row.history = [*self._row.history, _event(final_status, service.now())]
        final_calls = [
            self._record,
            lambda: service.analytics.upsert_company(
                subscription_id, {"email": registrant.email, "stripe_customer_id": customer_id}
            ),
            lambda: service.analytics.upsert_user(
                key.id,
                subscription_id,
                {"email": registrant.email, "first_name": registrant.first_name, "last_name": registrant.last_name},
            ),
        ]
        if not service.require_payment_method:
            final_calls.append(self._attach)
        _raise_first_failure(*self._stage(*final_calls))
        return Registration(key=key, customer_id=customer_id, subscription_id=subscription_id, status=final_status)

    def roll_back(self, failure: Exception) -> None:
        """Undo what this attempt created, then release its reservation, or keep the row
        `failed` with every id and the reason when an undo failed.

        A row the last stage already wrote as finished is marked `failed` before anything is
        undone: if the function dies mid-way, no half-undone account looks active (a pending
        row needs no mark, its lease runs out)."""
        if self._stored_status not in (None, AccountStatus.PENDING):
            self._mark_failed(f"{failure}; rolling back")
        leftovers = self._service.undo_recorded(self._row, attached=self._attached)
        if self._stored_status is None:
            return
        try:
            if not leftovers:
                self._service.accounts.delete(self._row.email, self._stored_status, self._id)
                return
        except ConcurrentUpdate:
            return  # a later attempt took the row over; it undoes what the row records
        self._mark_failed(f"{failure}; could not undo: {'; '.join(leftovers)}")

    def _mark_failed(self, reason: str) -> None:
        """Keep this attempt's row as `failed` with every id and `reason` (best effort: the
        failed-accounts command and a later sign-up also find a row whose lease ran out)."""
        now = self._service.now()
        failed = replace(
            self._row,
            status=AccountStatus.FAILED,
            failure_reason=reason,
            lease_expires_at=None,
            updated_at=now,
            history=[*self._row.history, _event(AccountStatus.FAILED, now)],
        )
        try:
            self._service.accounts.save(failed, self._stored_status, self._id)
        except ConcurrentUpdate:
            self._stored_status = None  # a later attempt took the row over; it undoes what the row records
            return
        except DownstreamError:
            return
        self._stored_status = AccountStatus.FAILED

    def _create(self, create: Callable[[], T], *, alongside: Callable[[], None], ledger_field: str,
                id_of: Callable[[T], str] = str, idempotency_field: str | None = None) -> T:
        """Run `create` concurrently with `alongside` (a ledger write); put the created id in the
        row as soon as it exists, even when `alongside` failed, so the rollback undoes it.

        `idempotency_field` names the row field holding the create's idempotency key, set before
        the stage so `alongside` records it: the rollback finds what a create with an unknown
        outcome made by it. A refusal (4xx) created nothing, so the key is dropped from the row."""
        done, created = self._stage(alongside, create)
        error = created.exception()
        if error is None:
            setattr(self._row, ledger_field, id_of(created.result()))
        elif idempotency_field and not _outcome_unknown(error):
            setattr(self._row, idempotency_field, None)
        _raise_first_failure(done, created)
        return created.result()

    def _stage(self, *calls: Callable[[], object]) -> list[Future]:
        """Run `calls` concurrently and wait for every one, so each success is in the ledger
        before the first failure is raised."""
        futures = [self._service.executor.submit(call) for call in calls]
        wait(futures)
        return futures

    def _idempotency_key(self, what: str) -> str:
        """Deterministic per attempt: an SDK or Lambda retry of the same call creates nothing new."""
        return f"tollgate-{what}-{self._email_hash}-{self._id}"

    def _reserve(self) -> None:
        """Claim the email with a conditional write. A `pending` row whose lease ran out (its
        attempt crashed) or a `failed` row is taken over once what it records is undone."""
        accounts, now = self._service.accounts, self._service.now()
        for _ in range(_RESERVATION_TRIES):
            try:
                accounts.save(self._row, expected_status=None)
                self._stored_status = AccountStatus.PENDING
                return
            except ConcurrentUpdate:
                existing = accounts.get(self._row.email)
            if existing is None:
                continue  # released between our write and our read
            if existing.status is AccountStatus.PENDING and (existing.lease_expires_at or 0) > now:
                if existing.request_fingerprint == self._row.request_fingerprint:
                    raise RegistrationInProgress("This sign-up is already being processed.")
                raise EmailAlreadyRegistered("This email already has an account.")
            if existing.status not in (AccountStatus.PENDING, AccountStatus.FAILED):
                raise EmailAlreadyRegistered("This email already has an account.")
            self._take_over(existing)
            return
        raise EmailAlreadyRegistered("This email already has an account.")

    def _take_over(self, abandoned: Account) -> None:
        accounts, now = self._service.accounts, self._service.now()
        leftovers = self._service.undo_recorded(abandoned)
        if leftovers:
            failed = replace(
                abandoned,
                status=AccountStatus.FAILED,
                failure_reason="an unfinished sign-up could not be undone: " + "; ".join(leftovers),
                lease_expires_at=None,
                updated_at=now,
                history=[*abandoned.history, _event(AccountStatus.FAILED, now)],
            )
            try:
                accounts.save(failed, abandoned.status, abandoned.attempt_id)
            except ConcurrentUpdate:
                pass  # another attempt took it over first and owns its cleanup now
            raise DownstreamError("cleanup", "an earlier unfinished sign-up for this email could not be undone")
        try:
            accounts.save(self._row, abandoned.status, abandoned.attempt_id)
        except ConcurrentUpdate:
            raise EmailAlreadyRegistered("This email already has an account.") from None
        self._stored_status = AccountStatus.PENDING

    def _record(self) -> None:
        """Write the ledger row, only over this attempt's own row."""
        self._row.updated_at = self._service.now()
        try:
            self._service.accounts.save(replace(self._row), self._stored_status, self._id)
        except ConcurrentUpdate:
            self._stored_status = None  # the lease ran out and another attempt owns the row now
            raise DownstreamError("accounts", "the sign-up took too long and lost its reservation") from None
        self._stored_status = self._row.status

    def _attach(self) -> None:
        self._service.api_keys.attach_to_plan(self._row.api_key_id)
        self._attached = True


def orphaned_keys(api_keys: ApiKeys, accounts: Accounts, now: int,
                  lease_seconds: int = RESERVATION_LEASE_SECONDS) -> list[ListedKey]:
    """Keys a sign-up created that no account row records, older than the lease (so no live
    attempt is still about to record them): left when the email turned out to be taken and
    deleting the key failed, or when the function died before recording the key id."""
    return [
        key
        for key in api_keys.keys_named(KEY_NAME_PREFIX)
        if key.created_at < now - lease_seconds and accounts.find_by_api_key_id(key.id) is None
    ]


def _raise_first_failure(*futures: Future) -> None:
    """Raise the most telling failure of a stage: an answer about the email (409) outranks a
    downstream failure, which outranks anything unexpected."""
    errors = [future.exception() for future in futures if future.exception() is not None]
    if errors:
        raise min(errors, key=_failure_rank)


def _outcome_unknown(error: BaseException) -> bool:
    """A timeout, throttling or 5xx: the service may have acted before failing to answer."""
    return isinstance(error, DownstreamError) and error.retryable


def _failure_rank(error: BaseException) -> int:
    if isinstance(error, (EmailAlreadyRegistered, RegistrationInProgress)):
        return 0
    return 1 if isinstance(error, DownstreamError) else 2


def _event(status: AccountStatus, at: int) -> dict[str, str]:
    return {"status": status.value, "at": str(at)}
