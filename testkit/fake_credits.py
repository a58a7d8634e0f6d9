"""Prepaid credit in memory, each fake failing on demand (testkit.faults): the credit ledger, with the
DynamoDB adapter's rules (an entry id is appended once, and the balance moves only with an entry), and
Stripe's Checkout in payment mode selling credit packs (sessions a test pays)."""

from __future__ import annotations

import itertools
from typing import Any

from testkit.faults import FaultyFake
from tollgate.domain.billing_state import CreditPackOrder, CreditPackPayment
from tollgate.domain.credits import CreditEntry
from tollgate.domain.ports.billing import CreditSales
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
            return sorted(
                self.entries_by_account.get(account_id, {}).values(), key=lambda entry: (entry.at, entry.entry_id)
            )


class FakeCreditSales(FaultyFake, CreditSales):
    """Payment-mode Checkout sessions by idempotency key; `pay` is the customer on the session's page,
    giving what its webhook event carries."""

    port = "stripe"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sessions: dict[str, dict[str, Any]] = {}  # idempotency key -> session
        self._ids = itertools.count(1)

    def create_credit_checkout(
        self, order: CreditPackOrder, success_url: str, cancel_url: str, idempotency_key: str
    ) -> str:
        with self._call("create_credit_checkout", order.account_id, idempotency_key), self._lock:
            if idempotency_key not in self.sessions:
                session_id = f"cs_test_credit_{next(self._ids):04d}"
                self.sessions[idempotency_key] = {
                    "id": session_id,
                    "order": order,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "url": f"https://checkout.stripe.test/c/{session_id}",
                }
            return str(self.sessions[idempotency_key]["url"])

    def pay(self, url: str, *, paid: bool = True) -> CreditPackPayment:
        """The session at `url` completed (`paid`: its payment succeeded at once, else it is pending)."""
        session = next(s for s in self.sessions.values() if s["url"] == url)
        return CreditPackPayment(session["id"], session["order"], paid)
