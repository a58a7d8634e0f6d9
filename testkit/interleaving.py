"""Two writers of the account row, interleaved at a chosen point: the second one runs, start to end,
right after the first one's Nth read of the row, so the first decides on a row that is no longer the
stored one. Wraps any Accounts (the fake, or DynamoAccounts on moto), so the same interleaving runs
on both.

    accounts = Interleaved(world.accounts)
    accounts.after_read(2, lambda: second_writer())
    first_writer()   # its second read returns, the second writer runs, then the first goes on
"""

from __future__ import annotations

from collections.abc import Callable

from tollgate.domain.account import Account, AccountStatus, AppliedEvent
from tollgate.domain.ports.accounts import Accounts


class Interleaved(Accounts):
    """`inner`, with a hook that runs once after the Nth read of an account row (`reads` counts them)."""

    def __init__(self, inner: Accounts):
        self.inner = inner
        self.reads = 0
        self._hook: tuple[int, Callable[[], object]] | None = None

    def after_read(self, number: int, hook: Callable[[], object]) -> None:
        """Run `hook` once, right after the `number`th read from now returns."""
        self._hook = (self.reads + number, hook)

    def _read(self, row: Account | None) -> Account | None:
        self.reads += 1
        if self._hook is not None and self.reads == self._hook[0]:
            hook, self._hook = self._hook[1], None
            hook()
        return row

    def get(self, email: str) -> Account | None:
        return self._read(self.inner.get(email))

    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        return self._read(self.inner.find_by_api_key_id(api_key_id))

    def find_by_account_id(self, account_id: str) -> Account | None:
        return self._read(self.inner.find_by_account_id(account_id))

    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        return self._read(self.inner.find_by_subscription_id(subscription_id))

    def find_by_customer_id(self, customer_id: str) -> Account | None:
        return self._read(self.inner.find_by_customer_id(customer_id))

    def create(self, account: Account) -> Account:
        return self.inner.create(account)

    def update(self, account: Account, read: Account, event: AppliedEvent | None = None) -> Account:
        return self.inner.update(account, read, event)

    def delete(self, read: Account) -> None:
        self.inner.delete(read)

    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        return self.inner.list_by_status(*statuses)

    def list_to_follow_up(self) -> list[Account]:
        return self.inner.list_to_follow_up()

    def count_by_status(self) -> dict[AccountStatus, int]:
        return self.inner.count_by_status()
