"""The accounts table: the versioned account row every money decision is made from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.account import Account, AccountStatus, AppliedEvent


class Accounts(ABC):
    """The accounts table: one row per normalised email, the ledger of what was created. Every write
    is conditional on the row's `version` (tollgate.domain.account): a writer that read an older row
    gets ConcurrentUpdate and decides again (tollgate.domain.account_store.change_account)."""

    @abstractmethod
    def get(self, email: str) -> Account | None:
        """The account for a normalised email, if any (a strongly consistent read)."""

    @abstractmethod
    def create(self, account: Account) -> Account:
        """Write a new row, only if the email has none; return it as stored (version 1). Raises
        tollgate.domain.errors.ConcurrentUpdate when a row exists."""

    @abstractmethod
    def update(self, account: Account, read: Account, event: AppliedEvent | None = None) -> Account:
        """Write what `account` changes of `read` (only the attributes that differ: a writer changes
        only what it owns), only if the stored row still has `read.version`; return the row as stored
        (version + 1). A key that stops being the current one becomes findable by `find_by_api_key_id`.
        With `event`, its id is recorded in the same transaction: EventAlreadyApplied when it was
        recorded before. Raises ConcurrentUpdate when the row changed (or went) since `read`."""

    @abstractmethod
    def delete(self, read: Account) -> None:
        """Remove the row, only if it still has `read.version` (a sign-up releasing its reservation).
        Raises ConcurrentUpdate otherwise."""

    @abstractmethod
    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        """The account owning an API key id: its current key, or any key its records name."""

    @abstractmethod
    def find_by_account_id(self, account_id: str) -> Account | None:
        """The account with this opaque account id (the authorizer's principalId, which the usage
        ledger's records name)."""

    @abstractmethod
    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        """The account owning a Stripe subscription id."""

    @abstractmethod
    def find_by_customer_id(self, customer_id: str) -> Account | None:
        """The account owning a Stripe customer id."""

    @abstractmethod
    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        """Every account in any of `statuses` (one pass over the table, for operators and the
        housekeeping: `failed` rows, canceled accounts' keys)."""

    @abstractmethod
    def list_to_follow_up(self) -> list[Account]:
        """Every account with a `follow_up_since` (it owes an open invoice, or a plan change was asked of
        Stripe and not recorded): the reconciler looks at each again, so a lost `invoice.paid` or a
        lost row write is repaired within one interval. Reads only those rows."""

    @abstractmethod
    def count_by_status(self) -> dict[AccountStatus, int]:
        """How many accounts are in each status (statuses with none are left out)."""
