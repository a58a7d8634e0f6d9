"""The credit ledger: a prepaid account's credit as an append-only list of entries (purchases, usage,
refunds, adjustments) whose sum is the balance."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.credits import CreditEntry


class CreditLedger(ABC):
    @abstractmethod
    def append(self, entry: CreditEntry) -> bool:
        """Add `entry` and its amount to the account's balance, once: an entry id already there changes
        nothing (False). Entry and balance move together or not at all."""

    @abstractmethod
    def balance(self, account_id: str) -> int:
        """The sum of the account's entries (micro-units), 0 for an account with none."""

    @abstractmethod
    def entries(self, account_id: str) -> list[CreditEntry]:
        """The account's entries, oldest first."""
