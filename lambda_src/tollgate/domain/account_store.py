"""Read, decide, write: the one way every writer changes an account row.

A writer reads the row, decides (calling Stripe or API Gateway where it must, with idempotency keys
or idempotent operations, so doing it again is harmless) and writes with the condition that the
row still has the version it read (tollgate.domain.ports.Accounts.update). When another writer got there
first, the write is refused, and the writer reads the row again and decides again from what is now
there: a decision is never made on, nor written over, a row someone else changed meanwhile
(docs/money-guarantees.md, "One versioned row").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tollgate.domain.account import Account, AppliedEvent
from tollgate.domain.errors import ConcurrentUpdate
from tollgate.domain.ports.accounts import Accounts

# Each try is a read and a write (a few ms each); writers rarely collide, so a fourth loss in a row
# means the row is under a storm of writes: the caller answers "try again" rather than spin.
WRITE_TRIES = 4
T = TypeVar("T")


def with_fresh_row(
    accounts: Accounts,
    email: str,
    attempt: Callable[[Account | None], T],
    tries: int = WRITE_TRIES,
    first: Account | None = None,
) -> T:
    """Run `attempt` on `first` (a row the caller just read) or on the row as it is now, and again on
    a fresh read each time it raises ConcurrentUpdate (its write lost a race), at most `tries` times;
    then ConcurrentUpdate."""
    for number in range(tries):
        try:
            return attempt(first if number == 0 and first is not None else accounts.get(email))
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"the account of {email} changed {tries} times while it was being updated; try again")


def change_account(
    accounts: Accounts,
    email: str,
    decide: Callable[[Account], Account | None],
    tries: int = WRITE_TRIES,
    event: AppliedEvent | None = None,
) -> Account | None:
    """Write what `decide` makes of the current row (None, or the row unchanged: nothing to write),
    deciding again on a fresh read whenever another writer got there first. Returns the row as
    stored afterwards; None when there is no row."""

    def attempt(read: Account | None) -> Account | None:
        if read is None:
            return None
        wanted = decide(read)
        if wanted is None or wanted == read:
            return read
        return accounts.update(wanted, read, event)

    return with_fresh_row(accounts, email, attempt, tries)
