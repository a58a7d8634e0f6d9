"""Value objects of the domain: who registers, what they were issued, the emails sent and what a
reconciler run did. The account row itself is tollgate.domain.account."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Registrant:
    """A validated, normalised sign-up request."""

    email: str  # trimmed and case-folded
    first_name: str
    last_name: str
    plan_id: str | None = None  # the plan chosen (tollgate.plans); None: the default plan


@dataclass(frozen=True)
class IssuedKey:
    """A key as created: an API Gateway key (id, value), or a key a customer holds (its key id, its
    value). `value` is secret: it goes to the caller and nowhere else."""

    id: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class ListedKey:
    """An API Gateway key as listed: no value, only what tells whether anything still owns it."""

    id: str
    name: str
    created_at: int  # epoch seconds


@dataclass(frozen=True)
class Email:
    """A plain-text email to one address (sign-up confirmation, sign-in link, ...)."""

    to: str
    subject: str
    text: str


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
    orphans_canceled: int = 0  # live subscriptions no account records, canceled (tollgate.domain.reconciliation)

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
