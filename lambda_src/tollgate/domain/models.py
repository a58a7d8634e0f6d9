"""Value objects of the domain: who registers, what they were issued, and the account ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Registrant:
    """A validated, normalised sign-up request."""

    email: str  # trimmed and case-folded
    first_name: str
    last_name: str


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
    an email forever; `failed` rows are those a rollback could not fully undo."""

    PENDING = "pending"
    ACTIVE = "active"
    AWAITING_PAYMENT_METHOD = "awaiting_payment_method"
    SUSPENDED = "suspended"
    FAILED = "failed"


@dataclass
class Account:
    """One row of the accounts table: the ledger of every id created for one email."""

    email: str
    status: AccountStatus
    first_name: str = ""
    last_name: str = ""
    api_key_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    # Recorded as the customer create starts: a rollback that never got the customer id (a timeout
    # or 5xx) repeats the create with it to learn the id (see RegistrationService.undo_recorded).
    customer_idempotency_key: str | None = None
    lease_expires_at: int | None = None  # epoch seconds; only meaningful while pending
    attempt_id: str | None = None  # the registration attempt that owns the row (guards its writes)
    request_fingerprint: str | None = None  # hash of Idempotency-Key + body of the reserving request
    failure_reason: str | None = None
    created_at: int = 0
    updated_at: int = 0
    history: list[dict[str, str]] = field(default_factory=list)
    # The newest Stripe event applied to this row: replays and older, late events are recognised
    # by it (see tollgate.domain.lifecycle).
    last_billing_event_id: str | None = None
    last_billing_event_at: int = 0  # the event's `created`, epoch seconds


@dataclass(frozen=True)
class Registration:
    """What a successful sign-up hands back: the key (value included) and the billing ids."""

    key: IssuedKey
    customer_id: str
    subscription_id: str
    status: AccountStatus


@dataclass(frozen=True)
class BillingEvent:
    """A verified Stripe event reduced to what the billing lifecycle needs, so no SDK object
    crosses into the domain. Ids are None when the event type does not carry them."""

    id: str
    type: str
    created: int  # epoch seconds, as stamped by Stripe
    customer_id: str | None = None
    subscription_id: str | None = None
    checkout_mode: str | None = None  # checkout.session.completed only: "setup", "payment", ...
    setup_intent_id: str | None = None  # checkout.session.completed in setup mode
