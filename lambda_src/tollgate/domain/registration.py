"""One sign-up = one customer key, one API Gateway usage key (on a pooled plan: its shard's, shared,
made by nobody here), one Stripe customer and subscription, one Moesif user — or nothing.

The customer's key is a Tollgate key (tollgate.domain.key_items.KeyIssuer), made here, shown once
(in the answer) and stored only as its hash, in the keys table. The API Gateway key is the account's
usage key: never shown, it is what the authorizer names so that usage plans throttle and count the
account (tollgate.domain.account.Account.api_key_id).

The plan chosen (tollgate.plans) decides the usage plan the usage key joins, the price subscribed to and
whether a card comes first; a free plan has a Stripe customer but no subscription (stage 3 is
skipped, and the Moesif company is the customer).

The service talks to ports only. The account row is the ledger of every id created (rollback,
a later takeover of a crashed attempt and the operator's failed-accounts command all undo what
it records), and independent calls run concurrently so the critical path is four round trips:

    1. reserve the email          ‖ create the usage key (in no usage plan yet: it cannot be counted),
                                    or read the account's pool shard (a pooled plan: no API Gateway call)
    2. create the Stripe customer ‖ record the usage key and the customer key's hash
    3. subscribe                  ‖ record the customer id
    4. Moesif company ‖ Moesif user ‖ attach the usage key to the usage plan ‖ store the key item
       ‖ record the final state

Storing the key item (with the account's final status) is what lets the key call the API, and it
runs in the last stage, once billing exists. Any failure undoes what was created, newest first, and releases the
reservation; an undo that fails leaves the row `failed` with every id and the reason. A Stripe
customer whose create timed out or failed with a 5xx may exist all the same: the rollback
repeats the create with its idempotency key to learn its id (see undo_recorded).

What the rollback undoes, and how, is tollgate.domain.cleanup's: the operator's failed-accounts
command runs the same code.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tollgate import contract
from tollgate.domain.account import (
    RESERVATION_LEASE_SECONDS,
    SIGNUP_KEY_NAME_PREFIX,
    Account,
    AccountStatus,
)
from tollgate.domain.cleanup import Cleanup, customer_reference
from tollgate.domain.errors import (
    ConcurrentUpdate,
    DownstreamError,
    EmailAlreadyRegistered,
    RegistrationInProgress,
)
from tollgate.domain.key_enforcement import follow_row
from tollgate.domain.key_items import KeyIssuer, KeyItem
from tollgate.domain.models import IssuedKey, Registrant
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.analytics import Analytics
from tollgate.domain.ports.billing import Billing
from tollgate.domain.ports.keys import ApiKeys, KeyItems
from tollgate.domain.ports.metrics import Metrics
from tollgate.domain.usage_keys import UsageKeys
from tollgate.plans import PlanCatalog

CONCURRENT_CALLS = 5  # the widest stage (the last one)
_RESERVATION_TRIES = 3
T = TypeVar("T")


@dataclass(frozen=True)
class Registration:
    """What a successful sign-up hands back: the customer's key (value included, its id the key id),
    its hint, the account id and the billing ids."""

    key: IssuedKey
    key_hint: str
    account_id: str
    customer_id: str
    subscription_id: str | None  # None: a free plan
    status: AccountStatus
    plan_id: str  # the plan signed up for (tollgate.plans): the key page says what applies to it


class RegistrationService:
    """Registers a Registrant across API Gateway, Stripe, Moesif and the accounts table."""

    def __init__(
        self,
        api_keys: ApiKeys,
        billing: Billing,
        analytics: Analytics,
        accounts: Accounts,
        *,
        metrics: Metrics,
        plans: PlanCatalog,
        key_items: KeyItems,
        usage_keys: UsageKeys,
        issuer: KeyIssuer | None = None,
        lease_seconds: int = RESERVATION_LEASE_SECONDS,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
        new_attempt_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.api_keys = api_keys
        self.billing = billing
        self.analytics = analytics
        self.accounts = accounts
        self.metrics = metrics
        self.key_items = key_items
        self.usage_keys = usage_keys
        self.issuer = issuer or KeyIssuer()
        self.cleanup = Cleanup(api_keys, billing, accounts, plans, key_items, clock)
        self.plans = plans
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
        self.metrics.count(contract.METRIC_SIGNUPS_STARTED)
        attempt = _Attempt(self, registrant, request_fingerprint)
        try:
            registration = attempt.run()
        except Exception as failure:
            attempt.roll_back(failure)
            self.metrics.count(contract.METRIC_SIGNUPS_FAILED[_failure_reason(failure)])
            raise
        self.metrics.count(contract.METRIC_SIGNUPS_CONFIRMED)
        return registration

    def now(self) -> int:
        return int(self.clock())


class _Attempt:
    """One run of the flow for one request: the row this attempt owns and what it created."""

    def __init__(self, service: RegistrationService, registrant: Registrant, fingerprint: str):
        self._service = service
        self._registrant = registrant
        self._plan = service.plans.get(registrant.plan_id)
        self._id = service.new_attempt_id()
        self._email_hash = hashlib.sha256(registrant.email.encode()).hexdigest()[:16]
        self._row = Account.reservation(
            registrant,
            self._plan,
            attempt_id=self._id,
            request_fingerprint=fingerprint,
            now=service.now(),
            lease_seconds=service.lease_seconds,
        )
        self._stored: Account | None = None  # the row as this attempt last wrote it (None: it owns no row)
        self._attached = False

    def run(self) -> Registration:
        service, registrant = self._service, self._registrant
        customer_key, key_record = service.issuer.issue(service.now())
        pooled, account_id = self._plan.pooled, self._row.account_id
        assert account_id is not None  # (a reservation always has one)
        key: IssuedKey = self._create(
            (lambda: service.usage_keys.shard_key(self._plan, account_id))
            if pooled
            else lambda: service.usage_keys.create_own(
                f"{SIGNUP_KEY_NAME_PREFIX}{self._email_hash}-{self._id}", f"Tollgate sign-up {self._id}"
            ),
            alongside=self._reserve,
            record=lambda row, issued: (
                row.with_pool_key(issued) if pooled else row.with_usage_key(issued)
            ).with_first_key(key_record),
        )
        customer_idempotency_key = self._idempotency_key("customer")
        self._row = self._row.with_customer_create(customer_idempotency_key)
        reference = customer_reference(self._row)
        assert reference is not None
        customer_id = self._create(
            lambda: service.billing.create_customer(registrant, reference, customer_idempotency_key),
            alongside=self._record,
            record=Account.with_customer,
            forget_when_refused=lambda row: row.with_customer_create(None),
        )
        price_id = self._plan.price_id  # None: a free plan, no subscription
        subscription_id = (
            None
            if price_id is None
            else self._create(
                lambda: service.billing.subscribe(customer_id, price_id, self._idempotency_key("subscription")),
                alongside=self._record,
                record=Account.with_subscription,
            )
        )
        company_id = subscription_id or customer_id

        final_status = (
            AccountStatus.AWAITING_PAYMENT_METHOD if self._plan.requires_payment_method else AccountStatus.ACTIVE
        )
        # The last stage leaves the keys as the final row wants them (or the rollback undoes it all).
        self._row = self._row.with_status(final_status, service.now(), "sign-up").with_keys_synced()
        assert self._stored is not None
        # The item copies the row as the final write stores it (that write is conditional on the
        # version this attempt last wrote; should it fail, the rollback removes the item).
        item = KeyItem.of(replace(self._row, version=self._stored.version + 1), key_record)
        final_calls = [
            self._record,
            lambda: service.analytics.upsert_company(
                company_id, {"email": registrant.email, "stripe_customer_id": customer_id}
            ),
            lambda: service.analytics.upsert_user(
                account_id,
                company_id,
                {"email": registrant.email, "first_name": registrant.first_name, "last_name": registrant.last_name},
            ),
            lambda: service.key_items.put(item),
        ]
        if not self._plan.requires_payment_method and not pooled:
            final_calls.append(lambda: self._attach(key.id))
        _raise_first_failure(*self._stage(*final_calls))
        return Registration(
            key=customer_key,
            key_hint=key_record.hint,
            account_id=account_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            status=final_status,
            plan_id=self._plan.id,
        )

    def roll_back(self, failure: Exception) -> None:
        """Undo what this attempt created, then release its reservation, or keep the row
        `failed` with every id and the reason when an undo failed.

        A row the last stage already wrote as finished is marked `failed` before anything is
        undone: if the function dies mid-way, no half-undone account looks active (a pending
        row needs no mark, its lease runs out)."""
        if self._stored is not None and self._stored.status is not AccountStatus.PENDING:
            self._keep_failed(f"{failure}; rolling back")
        outcome = self._service.cleanup.undo(self._row, attached=self._attached)
        self._row = outcome.account
        if outcome.leftovers:  # kept on a `failed` row below, or an orphaned key (make failed-accounts)
            self._service.metrics.count(contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS)
        if self._stored is None:
            return
        try:
            if not outcome.leftovers:
                self._service.accounts.delete(self._stored)
                return
        except ConcurrentUpdate:
            return  # a later attempt took the row over; it undoes what the row records
        self._keep_failed(f"{failure}; could not undo: {'; '.join(outcome.leftovers)}")

    def _keep_failed(self, reason: str) -> None:
        """Keep this attempt's row as `failed` with every id and `reason` (best effort: the
        failed-accounts command and a later sign-up also find a row whose lease ran out)."""
        assert self._stored is not None
        try:
            # None: a later attempt took the row over; it undoes what the row records.
            self._stored = self._service.cleanup.keep_failed(self._row, reason, read=self._stored)
        except DownstreamError:
            return

    def _create(
        self,
        create: Callable[[], T],
        *,
        alongside: Callable[[], None],
        record: Callable[[Account, T], Account],
        forget_when_refused: Callable[[Account], Account] | None = None,
    ) -> T:
        """Run `create` concurrently with `alongside` (a ledger write); put the created id in the
        row (`record`) as soon as it exists, even when `alongside` failed, so the rollback undoes it.

        A create whose idempotency key the row records (`forget_when_refused` drops it again) may
        have had an unknown outcome: the rollback finds what it made by that key. A refusal (4xx)
        created nothing, so the key is dropped from the row."""
        executor = self._service.executor  # (what _stage does, keeping the type of `create`'s result)
        done, created = executor.submit(alongside), executor.submit(create)
        stage: list[Future[Any]] = [done, created]
        wait(stage)
        error = created.exception()
        if error is None:
            self._row = record(self._row, created.result())
        elif forget_when_refused and not _outcome_unknown(error):
            self._row = forget_when_refused(self._row)
        _raise_first_failure(done, created)
        return created.result()

    def _stage(self, *calls: Callable[[], object]) -> list[Future[Any]]:
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
                self._stored = accounts.create(self._row)
                return
            except ConcurrentUpdate:
                existing = accounts.get(self._row.email)
            if existing is None:
                continue  # released between our write and our read
            if existing.status is AccountStatus.PENDING and (existing.lease_expires_at or 0) > now:
                if existing.request_fingerprint == self._row.request_fingerprint:
                    raise RegistrationInProgress("This sign-up is already being processed.")
                raise EmailAlreadyRegistered("This email already has an account.")
            if existing.status is AccountStatus.CANCELED:
                self._start_over(existing)
                return
            if existing.status not in (AccountStatus.PENDING, AccountStatus.FAILED):
                raise EmailAlreadyRegistered("This email already has an account.")
            self._take_over(existing)
            return
        raise EmailAlreadyRegistered("This email already has an account.")

    def _take_over(self, abandoned: Account) -> None:
        cleanup = self._service.cleanup
        outcome = cleanup.undo(abandoned)
        if outcome.leftovers:
            self._service.metrics.count(contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS)
            # None (another attempt took it over first) is fine: that attempt owns its cleanup now.
            cleanup.keep_failed(
                outcome.account,
                "an unfinished sign-up could not be undone: " + "; ".join(outcome.leftovers),
                read=abandoned,
            )
            raise DownstreamError("cleanup", "an earlier unfinished sign-up for this email could not be undone")
        try:
            self._stored = self._service.accounts.update(self._row, abandoned)
        except ConcurrentUpdate:
            raise EmailAlreadyRegistered("This email already has an account.") from None

    def _start_over(self, canceled: Account) -> None:
        """A canceled account ended for good: a new sign-up gets a new key and subscription. The
        old keys (disabled since the cancellation) are deleted first; the row keeps its history, and
        the old keys' records go, so no late usage of theirs is ever billed to the new subscription."""
        for key_id in canceled.gateway_key_ids:
            self._service.api_keys.delete_key(key_id)
        # The old keys' items end (their records go with the old row): retired, and gone after their TTL.
        ended = canceled.with_keys_deleted(self._service.now(), "sign-up again after cancellation")
        follow_row(self._service.key_items, replace(ended, version=canceled.version + 1))
        self._row = self._row.succeeding(canceled, self._service.now())
        try:
            self._stored = self._service.accounts.update(self._row, canceled)
        except ConcurrentUpdate:
            raise EmailAlreadyRegistered("This email already has an account.") from None

    def _record(self) -> None:
        """Write the ledger row, only over this attempt's own row."""
        assert self._stored is not None
        try:
            self._stored = self._service.accounts.update(self._row.touched(self._service.now()), self._stored)
        except ConcurrentUpdate:
            self._stored = None  # the lease ran out and another attempt owns the row now
            raise DownstreamError("accounts", "the sign-up took too long and lost its reservation") from None

    def _attach(self, key_id: str) -> None:
        self._service.api_keys.attach_to_plan(key_id, self._plan.usage_plan_id)
        self._attached = True


def _raise_first_failure(*futures: Future[Any]) -> None:
    """Raise the most telling failure of a stage: an answer about the email (409) outranks a
    downstream failure, which outranks anything unexpected."""
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise min(errors, key=_failure_rank)


def _outcome_unknown(error: BaseException) -> bool:
    """A timeout, throttling or 5xx: the service may have acted before failing to answer."""
    return isinstance(error, DownstreamError) and error.retryable


def _failure_reason(error: BaseException) -> str:
    """Why a sign-up failed, as contract.METRIC_SIGNUPS_FAILED names it."""
    if isinstance(error, (EmailAlreadyRegistered, RegistrationInProgress)):
        return "email_taken"
    if isinstance(error, DownstreamError):
        return "unavailable" if error.retryable else "refused"
    return "unexpected"


def _failure_rank(error: BaseException) -> int:
    if isinstance(error, (EmailAlreadyRegistered, RegistrationInProgress)):
        return 0
    return 1 if isinstance(error, DownstreamError) else 2
