"""Usage metering: the usage ledger (S3), the Stripe meters, the usage reports table and the evidence
behind every invoice (S3)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tollgate.domain.evidence import EvidenceBatch, PeriodFile, UnitPrice
    from tollgate.domain.usage import BatchSummary, LedgerObject, MeterReport, ReportRecord


class UsageLedger(ABC):
    """The usage ledger: every access-log record, as Firehose backs them up to S3."""

    @abstractmethod
    def read(self, source: LedgerObject) -> bytes:
        """The object's bytes, as stored (GZIP)."""

    @abstractmethod
    def objects_between(self, start: int, end: int) -> list[LedgerObject]:
        """Every ledger object that may hold calls made in [start, end) (epoch seconds)."""


class UsageMeter(ABC):
    """The Stripe billing meters of the plans' prices."""

    @abstractmethod
    def report(self, report: MeterReport) -> bool:
        """Send the meter event; False when Stripe already had its identifier (a repeat, counted once)."""

    @abstractmethod
    def unit_price(self, price_id: str) -> UnitPrice:
        """What one unit costs at the price, as Stripe has it (read once per process, as its meter is)."""

    @abstractmethod
    def reported_units(self, customer_id: str, price_id: str, start: int, end: int) -> float:
        """The aggregated usage of the customer in [start, end) (epoch seconds, whole minutes) on the
        meter of `price_id`."""


class UsageReports(ABC):
    """The usage reports table: which meter events were sent, and what each ledger object came to."""

    @abstractmethod
    def get(self, identifier: str) -> ReportRecord | None:
        """The report with this meter event identifier, if one was ever attempted."""

    @abstractmethod
    def mark_pending(self, report: MeterReport, now: int) -> ReportRecord:
        """Record that the report is about to be sent (keeping the first attempt's time when it was
        attempted before); a report already `reported` is returned as it is."""

    @abstractmethod
    def mark_reported(self, report: MeterReport, now: int) -> None:
        """Record that Stripe has the report."""

    @abstractmethod
    def pending_since_before(self, cutoff: int) -> list[ReportRecord]:
        """Reports still pending whose first attempt was before `cutoff` (epoch seconds)."""

    @abstractmethod
    def save_summary(self, summary: BatchSummary) -> None:
        """Keep what reporting one ledger object came to."""

    @abstractmethod
    def billable_calls(self, customer_id: str, start: int, end: int) -> int:
        """The billable calls reported (or being reported) for the customer whose latest call in their
        ledger object falls in [start, end) (epoch seconds): the account page's usage this period."""

    @abstractmethod
    def summary(self, source: LedgerObject) -> BatchSummary | None:
        """What reporting the object came to, once it was fully reported."""

    @abstractmethod
    def latest_summary(self) -> BatchSummary | None:
        """The summary saved last (the newest report, for `make status`), if any."""

    @abstractmethod
    def latest_billed_summary(self) -> BatchSummary | None:
        """The newest summary that billed a call (`make status`: the newest object may hold only
        calls nothing bills, such as a 403 or a free plan's), if any."""


class UsageEvidence(ABC):
    """The evidence behind every invoice: the billed calls of each meter event, per customer
    (tollgate.domain.evidence)."""

    @abstractmethod
    def save(self, batch: EvidenceBatch) -> None:
        """Write the batch's object; the same batch always names the same object (a rewrite, never a second)."""

    @abstractmethod
    def compact(self, customer_id: str, now: int) -> int:
        """Make what a period's file is later made from quickly (the S3 adapter: one object per closed
        UTC day) for the customer's closed days not made yet; the days made. Never changes a period's
        file: a batch saved later into a closed day is in it as much as any other."""

    @abstractmethod
    def period_file(self, customer_id: str, start: int, end: int) -> PeriodFile:
        """One CSV (a header, then every row of the customer's batches billed in [start, end), epoch
        seconds), written as one object of the customer's; reading only that customer's objects."""

    @abstractmethod
    def download_url(self, file: PeriodFile) -> str:
        """A signed URL that downloads the file for a few minutes (contract.USAGE_EVIDENCE_URL_SECONDS)."""

    @abstractmethod
    def read(self, file: PeriodFile) -> Iterator[bytes]:
        """The file's bytes, in chunks (the owner's `make evidence`)."""
