"""The evidence behind every invoice: each billed call, as the meter event that billed it was made.

Why this shape:
- The usage reporter writes it, from the very calls it makes each meter event from (one decision,
  `UsageReporter._billed_calls`: billable, on which plan, at which price), BEFORE it sends the event:
  whatever Stripe has, the evidence has. One object per meter event, named after the event's
  identifier, so a redelivered ledger object rewrites the same object and no row is ever doubled.
- The objects live under the customer's own prefix, named by the time their meter event is billed
  at (`EvidenceBatch.billed_at`): a period's objects are one listing of that prefix between two
  names, whose cost grows with the customer's own traffic only, never with other customers'.
- A period's download is one file: the objects of the period concatenated on request into one object
  of the customer's, offered as a short-lived signed URL (`UsageEvidence.period_file`); the owner's
  `make evidence` reads the same file.

Stripe bills a meter event in the period holding its timestamp, which is the latest call of the
event (tollgate.domain.metering), so a call made just before a period's end may be billed, and shown
here, in the next period: the rows of a period's file are exactly the units of that period's invoice.
"""

from __future__ import annotations

import csv
import functools
import io
import time
from dataclasses import dataclass

from tollgate.domain.account import Account
from tollgate.domain.errors import KeyChangeRefused
from tollgate.domain.ports.billing import AccountBilling
from tollgate.domain.ports.metering import UsageEvidence
from tollgate.domain.usage import MeteredCall

COLUMNS = ("time", "request_id", "method", "path", "status", "plan", "price", "unit_amount", "currency")
NOT_KEPT = (
    "This service does not keep call-by-call evidence (its usage reaches Stripe through Moesif): your "
    "invoice lists the units Stripe counted."
)
NO_BILLING_PERIOD = (
    "Nothing is billed on this account yet (no subscription, so no billing period): there is no "
    "evidence to download. Choose a paid plan on this page to be billed for calls."
)


@dataclass(frozen=True)
class BilledCall:
    """One call a meter event bills: the call, and the plan and Stripe price it is billed on."""

    call: MeteredCall
    plan_id: str
    price_id: str


@dataclass(frozen=True)
class UnitPrice:
    """What one call costs at a Stripe price, as the price says: `amount` is its unit_amount_decimal, in
    the currency's smallest unit (cents for usd; "0.1" is a tenth of a cent), "" for a tiered price,
    whose tiers apply to the period's total (the invoice shows them)."""

    amount: str
    currency: str


@dataclass(frozen=True)
class EvidenceBatch:
    """The billed calls of one meter event: what one evidence object holds."""

    customer_id: str
    identifier: str  # the meter event's (tollgate.domain.metering.meter_event_identifier)
    calls: tuple[BilledCall, ...]
    unit_price: UnitPrice = UnitPrice("", "")  # the calls' price's (UsageMeter.unit_price)

    @property
    def billed_at(self) -> int:
        """The meter event's timestamp (epoch seconds): its latest call. The reporter caps the event's at
        its own clock, which only a call time ahead of that clock (skew) could exceed; this stays the
        call's, so a redelivery names the same object."""
        return max(billed.call.at_ms for billed in self.calls) // 1000

    def csv_rows(self) -> bytes:
        """The calls as CSV rows (no header: a period's file has one), oldest first."""
        out, price = io.StringIO(), self.unit_price
        csv.writer(out, lineterminator="\n").writerows(
            (
                iso_time(billed.call.at_ms),
                billed.call.request_id,
                billed.call.method,
                billed.call.path,
                billed.call.status,
                billed.plan_id,
                billed.price_id,
                price.amount,
                price.currency,
            )
            for billed in sorted(self.calls, key=lambda billed: (billed.call.at_ms, billed.call.request_id))
        )
        return out.getvalue().encode()


def csv_header() -> bytes:
    return (",".join(COLUMNS) + "\n").encode()


def iso_time(at_ms: int) -> str:
    """UTC, ISO 8601 with milliseconds: 2026-12-03T10:15:00.123Z."""
    seconds, millis = divmod(at_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    """A busy customer's calls share their seconds (an object holds a minute or so of them): formatting
    each second once was half of writing an object's rows (bench/metering.py)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


@dataclass(frozen=True)
class PeriodFile:
    """One period's evidence of one customer, as one object: where it is and how many calls it lists."""

    customer_id: str
    start: int  # epoch seconds, included
    end: int  # excluded
    location: str  # the adapter's name for the object
    rows: int
    objects: int  # evidence objects it was made from


@dataclass(frozen=True)
class EvidenceDownload:
    file: PeriodFile
    url: str  # short-lived (UsageEvidence.download_url)


class InvoiceEvidence:
    """The account page's download: the current billing period's evidence as one file, by signed URL."""

    def __init__(self, evidence: UsageEvidence | None, billing: AccountBilling):
        self._evidence = evidence  # None: usage_reporter=moesif, no evidence is written
        self._billing = billing

    def current_period(self, account: Account) -> EvidenceDownload:
        """The period of the account's upcoming invoice (KeyChangeRefused, said to the customer, when it
        has no subscription: nothing is billed)."""
        if self._evidence is None:
            raise KeyChangeRefused(NOT_KEPT)
        if account.customer_id is None or account.subscription_id is None:
            raise KeyChangeRefused(NO_BILLING_PERIOD)
        invoice = self._billing.upcoming_invoice(account.subscription_id)
        file = self._evidence.period_file(account.customer_id, invoice.period_start, invoice.period_end)
        return EvidenceDownload(file, self._evidence.download_url(file))
