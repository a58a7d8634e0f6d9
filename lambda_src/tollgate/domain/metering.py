"""UsageReporter: the billable calls of one ledger object reach the Stripe meter exactly once.

Per ledger object (one Firehose S3 backup object, announced by an S3 event), the billable calls
are added up per customer (caller -> account -> Stripe customer, looked up once per object; the
caller is the record's account id, `principalId`, or for records from before the key authorizer its
API key id: `account_of_caller`):
one meter event per customer per object, whatever the number of calls, with
- `value` = the customer's billable calls in the object;
- `timestamp` = the customer's latest call in it (never later than now: Stripe refuses events
  more than 5 minutes ahead, and any older than 35 days);
- `identifier` = a hash of (bucket, object key, customer, price): the same calls always yield the
  same identifier, however the object is split by plan changes, and Stripe refuses a second event
  with an identifier it saw within at least 24 h (HTTP 400 "An event already exists with identifier
  ..."), which the meter adapter answers as "already reported".

Beyond Stripe's 24 h, the usage reports table (port UsageReports) decides: each report is written
`pending` before the Stripe call and `reported` after it. A redelivered object skips `reported`
reports; re-sends a `pending` one whose first attempt is under 24 h old (the identifier makes a
repeat harmless); and never re-sends by itself a `pending` one older than that: Stripe may have
it and no longer de-duplicates it. Those are AMBIGUOUS: left for the operator
(`make usage-redrive` lists them; only `--assume-unreported` sends them).

Calls whose caller maps to no account with a Stripe customer (a deleted key), or whose plan has no
price recorded and is no longer in the settings, are not sent anywhere: the outcome counts them per
caller id, the object's summary records them, and the ledger keeps them; the rest of the object is
reported (one customer never holds up the others). Each call is billed on the plan its account was
on when it was made, at the price recorded with that plan (`Account.plan_at`; see
tollgate.domain.plan_changes), so removing a plan from the settings never stops its calls being
billed: calls on a free plan are not sent anywhere, a paid plan's go to the meter of that price
(MeterReport.price_id). An object whose calls of one customer span a plan change gives one event
per price.

Before any of an object's meter events is sent, the calls each bills are written as the customer's
evidence (tollgate.domain.evidence, port UsageEvidence): the same calls, decided once in
`_billed_calls`, in an object named by the event, so whatever Stripe has, the evidence has, and a
redelivery rewrites the same object. The writes go in one parallel round ahead of the Stripe calls,
not one beside each (bench/metering.py measured that doubling an object's time), and an event whose
evidence was not written is not sent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from tollgate.domain.account import Account
from tollgate.domain.errors import DownstreamError
from tollgate.domain.evidence import BilledCall, EvidenceBatch
from tollgate.domain.plan_state import PlanTerm
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.metering import UsageEvidence, UsageLedger, UsageMeter, UsageReports
from tollgate.domain.usage import (
    BatchSummary,
    BillableStatuses,
    CallerUsage,
    LedgerObject,
    MeteredCall,
    MeterReport,
    ReportRecord,
    ReportState,
    is_account_id,
    read_ledger,
)
from tollgate.domain.usage_alerts import UsageAlerts
from tollgate.domain.usage_counting import UsageTally
from tollgate.domain.usage_limits import UsageLimits
from tollgate.plans import PlanCatalog, UnknownPlan

# Stripe accepts meter events up to 35 days old: a report older than that can never be sent, so
# what the table remembers about it can go.
REPORT_RETENTION_SECONDS = 35 * 24 * 3600
# Meter events sent at once for one object. Two objects at most are reported at a time (the queue's
# maximum concurrency, infra/usage_metering.py), so at most 16 calls are in flight: far below the
# 1,000 meter events per second Stripe takes in live mode.
PARALLEL_STRIPE_CALLS = 8
# Customers whose closed days of evidence one object's report compacts, at most (`_compact_closed_days`):
# the first object after midnight may hold thousands of customers, and a day's compaction reads up to
# 1,440 objects (about a second on AWS); the others are compacted with their next objects, so an
# object's report stays far inside the function's timeout.
COMPACTIONS_PER_OBJECT = 16
# Evidence objects written at once, all before the object's first meter event is sent (one round of
# S3 writes per object, not one per round of Stripe calls). Each customer has its own prefix, and S3
# takes at least 3,500 writes per second per partitioned prefix
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html): the
# function's threads are the limit.
PARALLEL_EVIDENCE_WRITES = 32
IDENTIFIER_PREFIX = "tollgate-"
_Result = TypeVar("_Result")


def price_billed(term: PlanTerm, plans: PlanCatalog) -> str | None:
    """The Stripe price a call made on `term` is billed at: the one recorded with the term, else the
    settings' price of its plan; None on a free plan. Raises UnknownPlan when neither says (no price
    recorded, and the plan is no longer in the settings). `make usage-report` counts with it too."""
    return term.price_id if term.price_id is not None else plans.get(term.plan_id).price_id


def account_of_caller(accounts: Accounts, caller: str) -> Account | None:
    """The account a ledger caller (tollgate.domain.usage.MeteredCall.caller) is: by its account id,
    or, for records from before the key authorizer, by the API key id it called with. The reporter
    and `make usage-report` both ask it, so they attribute calls alike."""
    return accounts.find_by_account_id(caller) if is_account_id(caller) else accounts.find_by_api_key_id(caller)


class Delivery(StrEnum):
    SENT = "sent"
    ALREADY_REPORTED = "already_reported"  # marked reported, or Stripe knew the identifier
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class BatchOutcome:
    summary: BatchSummary
    deliveries: dict[str, Delivery]  # identifier -> what happened to it
    ambiguous: tuple[ReportRecord, ...] = ()
    units_sent: int = 0  # the values of the meter events Stripe accepted now (not the repeats)
    # Compacting the customers' closed days of evidence failed (retried on their next object; a
    # download compacts what is missing itself): what went wrong, for the log.
    compaction_failures: tuple[DownstreamError, ...] = ()

    def count(self, delivery: Delivery) -> int:
        return sum(1 for outcome in self.deliveries.values() if outcome is delivery)


class UsageNotReported(DownstreamError):
    """Some of an object's reports failed; the others went through (retrying skips them)."""


def meter_event_identifier(source: LedgerObject, customer_id: str, price_id: str | None) -> str:
    """Deterministic, at most 100 characters (Stripe's limit): the same object, customer and price
    give the same identifier on every retry, redelivery or redrive, whatever else the object holds.
    (None: the identifier earlier versions gave an object's only price, see `_record_of`.)"""
    text = f"{source.bucket}\n{source.key}\n{customer_id}" + (f"\n{price_id}" if price_id else "")
    return IDENTIFIER_PREFIX + hashlib.sha256(text.encode()).hexdigest()


class UsageReporter:
    """Reports ledger objects to the Stripe meter (see the module docstring)."""

    def __init__(
        self,
        ledger: UsageLedger,
        accounts: Accounts,
        meter: UsageMeter,
        reports: UsageReports,
        evidence: UsageEvidence,
        tally: UsageTally,
        limits: UsageLimits,
        alerts: UsageAlerts,
        statuses: BillableStatuses,
        plans: PlanCatalog,
        clock: Callable[[], float] = time.time,
        parallel_calls: int = PARALLEL_STRIPE_CALLS,
        compactions_per_object: int = COMPACTIONS_PER_OBJECT,
    ):
        self._plans = plans
        self._evidence = evidence
        self._tally = tally
        self._limits = limits
        self._alerts = alerts
        self._ledger = ledger
        self._accounts = accounts
        self._meter = meter
        self._reports = reports
        self._statuses = statuses
        self._clock = clock
        self._parallel_calls = parallel_calls
        self._compactions_per_object = compactions_per_object
        self._compacted: set[tuple[str, int]] = set()  # (customer, UTC day) whose closed days this process compacted

    def report_object(self, source: LedgerObject) -> BatchOutcome:
        """Send the object's unreported usage. Raises UsageNotReported (retryable when every
        failure was) once every customer was tried, so a retry only repeats what failed; after a
        retryable failure (Stripe down or throttling) the customers not yet tried are not tried
        now: they wait for the retry, and an outage costs one round of calls, not one per customer."""
        usage = read_ledger(self._ledger.read(source), self._statuses)
        callers = {caller: account_of_caller(self._accounts, caller) for caller in usage.by_caller}
        # First, whatever Stripe does: the accounts' counts, the limits decided from them, and the alerts
        # they cross (a failed alert whose retry could work is retried with the object: nothing counts twice).
        counted = self._tally.count(source, usage.by_caller, callers, self._price_of)
        limit_failures = self._limits.review(counted)
        limit_failures += self._alerts.review(counted)
        billed, unknown = self._billed_calls(usage.by_caller, callers)
        reports = self._meter_reports(source, billed)
        # First, every report's evidence: nothing reaches Stripe without it.
        written = _each(reports, lambda report: self._save_evidence(report, billed), PARALLEL_EVIDENCE_WRITES)
        failures = [result for result in written if isinstance(result, DownstreamError)]
        with ThreadPoolExecutor(max_workers=1) as background:
            # The object's evidence is written: its customers' closed days compact while Stripe is called.
            compaction = background.submit(self._compact_closed_days, {report.customer_id for report in reports})
            to_send = [report for report, result in zip(reports, written, strict=True) if result is None]
            results = _each(to_send, self._deliver, self._parallel_calls)
        deliveries: dict[str, Delivery] = {}
        ambiguous: list[ReportRecord] = []
        units_sent = 0
        for report, result in zip(to_send, results, strict=True):
            if isinstance(result, DownstreamError):
                failures.append(result)
                continue
            delivery, record = result
            deliveries[report.identifier] = delivery
            units_sent += report.value if delivery is Delivery.SENT else 0
            if delivery is Delivery.AMBIGUOUS:
                ambiguous.append(record)
        if failures:
            raise UsageNotReported(
                failures[0].service,
                f"{len(failures)} of {len(reports)} customers of {source} not reported; first: {failures[0]}",
                retryable=all(failure.retryable for failure in failures),
            )
        if limit_failures:  # the retry counts nothing twice, sends Stripe nothing twice, and decides again
            first = limit_failures[0]
            raise UsageNotReported(
                first.service if isinstance(first, DownstreamError) else "DynamoDB",
                f"the usage limits or alerts of {len(limit_failures)} accounts of {source} were not "
                f"decided; first: {first}",
                retryable=True,
            )
        summary = BatchSummary(
            source,
            usage.records,
            usage.malformed,
            usage.billable,
            len({report.customer_id for report in reports}),
            unknown,
            len(ambiguous),
            int(self._clock()),
            billed=sum(report.value for report in reports),
        )
        self._reports.save_summary(summary)
        return BatchOutcome(summary, deliveries, tuple(ambiguous), units_sent, compaction.result())

    def _compact_closed_days(self, customers: set[str]) -> tuple[DownstreamError, ...]:
        """On a customer's first evidence of a UTC day in this process, its closed days are compacted
        (UsageEvidence.compact), so a steady caller's period downloads from a file a day, not an
        object a minute. Best effort: a failure is retried with the customer's next object."""
        now = int(self._clock())
        today = now // 86_400
        due = sorted(customer for customer in customers if (customer, today) not in self._compacted)
        due = due[: self._compactions_per_object]
        self._compacted = {done for done in self._compacted if done[1] == today}
        failures = []
        with ThreadPoolExecutor(max_workers=self._parallel_calls) as pool:
            for customer, error in zip(due, pool.map(lambda customer: self._compact(customer, now), due), strict=True):
                if error is None:
                    self._compacted.add((customer, today))
                else:
                    failures.append(error)
        return tuple(failures)

    def _compact(self, customer_id: str, now: int) -> DownstreamError | None:
        try:
            self._evidence.compact(customer_id, now)
        except DownstreamError as error:
            return error
        return None

    def send_ambiguous(self, record: ReportRecord) -> Delivery:
        """The operator's `--assume-unreported`: send a report that stayed pending past Stripe's
        window, with its own identifier (should Stripe still know it, that is "already reported")."""
        return self._send(record.report)

    def _billed_calls(
        self, by_caller: dict[str, CallerUsage], accounts: dict[str, Account | None]
    ) -> tuple[dict[tuple[str, str], list[BilledCall]], dict[str, int]]:
        """The one decision of what is billed: each billable call of an account with a customer, on the
        plan it was made on, at that plan's price, grouped by (customer, price); the calls of no
        customer, or of a plan with no price known, counted per caller id instead."""
        billed: dict[tuple[str, str], list[BilledCall]] = {}
        unknown: dict[str, int] = {}
        for caller, caller_usage in by_caller.items():
            if not caller_usage.billable:
                continue
            account = accounts[caller]
            if account is None or account.customer_id is None:
                unknown[caller] = caller_usage.billable
                continue
            for call in caller_usage.billable_calls:
                term = account.plan_at(call.at_ms / 1000)
                try:
                    price_id = price_billed(term, self._plans)
                except UnknownPlan:
                    unknown[caller] = unknown.get(caller, 0) + 1  # no price recorded, and the plan is gone
                    continue
                if price_id is None:
                    continue  # made on a free plan
                plan_id = term.plan_id or self._plans.default.id
                billed.setdefault((account.customer_id, price_id), []).append(BilledCall(call, plan_id, price_id))
        return billed, unknown

    def _price_of(self, account: Account, call: MeteredCall) -> str | None:
        """The price a billable call of `account` is billed at; None when it is not billed (a free plan's,
        or one whose plan has no price known: `_billed_calls` counts those as unknown)."""
        try:
            return price_billed(account.plan_at(call.at_ms / 1000), self._plans)
        except UnknownPlan:
            return None

    def _meter_reports(
        self, source: LedgerObject, billed: dict[tuple[str, str], list[BilledCall]]
    ) -> list[MeterReport]:
        now = int(self._clock())
        return [
            MeterReport(
                meter_event_identifier(source, customer_id, price_id),
                customer_id,
                len(calls),
                min(max(one.call.at_ms for one in calls) // 1000, now),
                source,
                price_id,
            )
            for (customer_id, price_id), calls in sorted(billed.items())
        ]

    def _save_evidence(self, report: MeterReport, billed: dict[tuple[str, str], list[BilledCall]]) -> None:
        """The calls the report bills, priced as Stripe prices them, as one object named by its identifier."""
        self._evidence.save(
            EvidenceBatch(
                report.customer_id,
                report.identifier,
                tuple(billed[report.customer_id, report.price_id]),
                self._meter.unit_price(report.price_id),
            )
        )

    def _deliver(self, report: MeterReport) -> tuple[Delivery, ReportRecord]:
        record = self._reports.get(report.identifier)
        if record is None:
            report, record = self._as_reported_before(report)
        if record is not None and record.state is ReportState.REPORTED:
            return Delivery.ALREADY_REPORTED, record
        if record is not None and record.ambiguous_at(self._clock()):
            return Delivery.AMBIGUOUS, record
        record = self._reports.mark_pending(report, int(self._clock()))
        if record.state is ReportState.REPORTED:  # a concurrent delivery of the same object finished first
            return Delivery.ALREADY_REPORTED, record
        return self._send(report), replace(record, state=ReportState.REPORTED)

    def _as_reported_before(self, report: MeterReport) -> tuple[MeterReport, ReportRecord | None]:
        """A report never seen under its identifier may have been made by a version that left the price
        out of the identifier of an object's only price: then it goes on under THAT identifier, so an
        object reported before the upgrade and redelivered after it is never billed twice. This read,
        made only for reports never seen, can go once nothing older than the upgrade can be
        redelivered (the dead-letter queue keeps 14 days; Stripe takes 35)."""
        earlier = self._reports.get(meter_event_identifier(report.source, report.customer_id, None))
        if earlier is None or earlier.report.price_id not in ("", report.price_id):
            return report, None
        return earlier.report, earlier

    def _send(self, report: MeterReport) -> Delivery:
        delivery = Delivery.SENT if self._meter.report(report) else Delivery.ALREADY_REPORTED
        self._reports.mark_reported(report, int(self._clock()))
        return delivery


def _each(
    reports: list[MeterReport], work: Callable[[MeterReport], _Result], at_once: int
) -> list[_Result | DownstreamError]:
    """`work` on each report, `at_once` at a time: its result, or the DownstreamError it raised. After a
    retryable failure (a service down or throttling) the reports not started yet are not tried: they
    wait for the object's retry, and an outage costs one round of calls, not one per customer."""
    first_failure: list[DownstreamError] = []

    def attempt(report: MeterReport) -> _Result | DownstreamError:
        if first_failure:
            return DownstreamError(
                first_failure[0].service,
                f"{report.customer_id} not tried: an earlier call failed ({first_failure[0]})",
                retryable=True,
            )
        try:
            return work(report)
        except DownstreamError as error:
            if error.retryable:
                first_failure.append(error)
            return error

    with ThreadPoolExecutor(max_workers=max(1, min(at_once, len(reports)))) as pool:
        return list(pool.map(attempt, reports))
