"""Prepaid credit: what a prepaid plan's customer has paid for in advance, kept by Tollgate as an
append-only ledger (port CreditLedger), never as a mutable number alone.

- A **purchase** adds a pack's credit when Stripe says its Checkout session (payment mode) is paid; its
  entry id is the session's, so a redelivered or replayed event never adds it twice.
- **Usage** takes the calls of one ledger object at the plan's unit price; its entry id is the object's,
  so a redelivered object is never charged twice.
- **Refunds** and **adjustments** are the owner's corrections, each with an id of its own.

The balance is the entries' sum; the ledger keeps it beside them, moved only with an entry, so reading
it is one read. Amounts are integers in micro-units of the plan's currency (1 USD = 1,000,000), so a
price of 0.1 cent per call (1,000 micro-units) is exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from tollgate.domain.ports.credits import CreditLedger


class CreditKind(StrEnum):
    PURCHASE = "purchase"
    USAGE = "usage"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True)
class CreditEntry:
    account_id: str
    entry_id: str  # "<kind>#<cause>": one entry per cause
    kind: CreditKind
    amount: int  # micro-units; usage and refunds are negative
    at: int  # epoch seconds
    note: str = ""


def usage_entry_id(source: str) -> str:
    """The usage entry of one ledger object: the object's name, hashed to a fixed length."""
    return f"{CreditKind.USAGE}#{hashlib.sha256(source.encode()).hexdigest()[:32]}"


class CreditBook:
    """Purchases and usage as ledger entries, each once (see the module docstring)."""

    def __init__(self, ledger: CreditLedger):
        self._ledger = ledger

    def purchase(self, account_id: str, checkout_session_id: str, credit: int, at: int, pack_id: str) -> bool:
        """`credit` (micro-units) bought through the paid Checkout session: True when added now."""
        return self._ledger.append(
            CreditEntry(
                account_id,
                f"{CreditKind.PURCHASE}#{checkout_session_id}",
                CreditKind.PURCHASE,
                credit,
                at,
                f"pack {pack_id}",
            )
        )

    def charge_usage(self, account_id: str, source: str, calls: int, unit_price: int, at: int) -> bool:
        """`calls` billable calls of the ledger object `source` at `unit_price` (micro-units per call)."""
        if calls <= 0:
            return False
        return self._ledger.append(
            CreditEntry(account_id, usage_entry_id(source), CreditKind.USAGE, -calls * unit_price, at, f"{calls} calls")
        )

    def balance(self, account_id: str) -> int:
        return self._ledger.balance(account_id)

    def entries(self, account_id: str) -> list[CreditEntry]:
        return self._ledger.entries(account_id)
