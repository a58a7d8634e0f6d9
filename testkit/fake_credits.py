"""The credit ledger in memory (failing on demand, testkit.faults), with the DynamoDB adapter's rules:
an entry id is appended once, and the balance moves only with an entry."""

from __future__ import annotations

from typing import Any

from testkit.faults import FaultyFake
from tollgate.domain.credits import CreditEntry
from tollgate.domain.ports.credits import CreditLedger


class FakeCreditLedger(FaultyFake, CreditLedger):
    port = "dynamodb"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.entries_by_account: dict[str, dict[str, CreditEntry]] = {}

    def append(self, entry: CreditEntry) -> bool:
        with self._call("append", entry.entry_id), self._lock:
            entries = self.entries_by_account.setdefault(entry.account_id, {})
            if entry.entry_id in entries:
                return False
            entries[entry.entry_id] = entry
            return True

    def balance(self, account_id: str) -> int:
        with self._call("balance", account_id), self._lock:
            return sum(entry.amount for entry in self.entries_by_account.get(account_id, {}).values())

    def entries(self, account_id: str) -> list[CreditEntry]:
        with self._call("entries", account_id), self._lock:
            return sorted(self.entries_by_account.get(account_id, {}).values(),
                          key=lambda entry: (entry.at, entry.entry_id))
