"""UsageAlerts: each threshold an account's usage crosses is emailed once per period.

Run after the per-account counts are updated (the usage reporter, every ledger object: the ledger's
flush plus the reporter's work bound how late an alert is). For each threshold crossed and not yet
emailed this period (tollgate.domain.spend_control), three steps, each on the versioned row through
tollgate.domain.account_store.change_account, writing only the row's `alerts_sent`:

1. CLAIM: the threshold is recorded as being sent, with when. Two checks of one account (two ledger
   objects reported at once) both decide on the row's version, so exactly one wins the claim; the
   other re-reads, sees the claim and sends nothing. A lost write is decided again, never sent on.
2. SEND the email (SES).
3. CONFIRM: the claim becomes `sent`.

Nothing is ever dropped: when the send fails, the claim is released and the next check sends; when
the process dies (or DynamoDB fails) after the claim, the claim runs out after CLAIM_LEASE_SECONDS
and the next check sends. The one way an alert goes twice is a death between SES accepting the email
and the confirm write (milliseconds): SES has no idempotency key to make that window safe, and an
alert sent twice is better than one never sent (docs/money-guarantees.md, "Usage alerts").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from tollgate.domain.account import Account
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.account_store import change_account
from tollgate.domain.errors import DownstreamError, TollgateError
from tollgate.domain.models import Email
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.mail import Mailer
from tollgate.domain.spend_control import (
    AlertsSent,
    SpendFigures,
    Threshold,
    ThresholdKind,
    alert_mark,
    crossed,
    mark_kind,
    mark_parts,
    thresholds,
)
from tollgate.domain.spend_watch import SpendMeter
from tollgate.plans import Plan, PlanCatalog, UnknownPlan

LOG = logging.getLogger(__name__)
# Longer than any check takes (a few row writes and one SES call, each with a timeout of seconds),
# so a live sender's claim is never taken over; short enough that a dead sender's alert goes out
# within the reporter's next objects (the 5-minute promise counts from the claim's run).
CLAIM_LEASE_SECONDS = 120


class UsageAlerts:
    def __init__(
        self,
        accounts: Accounts,
        mailer: Mailer,
        emails: AccountEmails,
        plans: PlanCatalog,
        meter: SpendMeter,
        clock: Callable[[], float] = time.time,
        claim_lease_seconds: int = CLAIM_LEASE_SECONDS,
    ):
        self._accounts = accounts
        self._mailer = mailer
        self._emails = emails
        self._plans = plans
        self._meter = meter
        self._clock = clock
        self._lease = claim_lease_seconds

    def review(self, accounts: Iterable[Account]) -> list[TollgateError]:
        """Check each account counted in a ledger object (the usage reporter, after its counts and
        limits). Every account is tried; the failures worth a retry of the object (a read, a write or
        SES failing for now) are returned for the caller to raise; the others (SES refusing the
        address) are logged, and the next check of the account tries again."""
        failures: list[TollgateError] = []
        for account in accounts:
            try:
                plan = self._plans.get(account.plan_id)
            except UnknownPlan:
                continue  # a plan no longer sold: nothing to measure it against
            wanted = thresholds(account.spend_settings, plan)
            if not wanted:
                continue
            try:
                self.check(account, plan, self._meter.figures(account, plan, {threshold.kind for threshold in wanted}))
            except TollgateError as failure:
                if isinstance(failure, DownstreamError) and not failure.retryable:
                    LOG.warning("usage alert of %s not sent: %s", account.account_id, failure)
                else:
                    failures.append(failure)
        return failures

    def check(self, account: Account, plan: Plan, figures: SpendFigures) -> tuple[Threshold, ...]:
        """Email every threshold `figures` cross that was not emailed this period; the ones emailed now.
        Raises DownstreamError when an email could not be sent (its claim released: the next check
        sends it)."""
        emailed: list[Threshold] = []
        for threshold in thresholds(account.spend_settings, plan):
            window = figures.window(threshold.kind)
            if window is None or not crossed(threshold, plan, figures):
                continue
            mark = alert_mark(threshold, window.start)
            if (account.alerts_sent and mark in account.alerts_sent.sent) or not self._claim(account, mark):
                continue
            try:
                self._mailer.send(self._email(account, threshold, plan, figures))
            except Exception:
                self._settle(account, mark, sent=False)
                raise
            self._settle(account, mark, sent=True)
            emailed.append(threshold)
        return tuple(emailed)

    def _email(self, account: Account, threshold: Threshold, plan: Plan, figures: SpendFigures) -> Email:
        if figures.quota is not None and threshold.kind is ThresholdKind.QUOTA:
            return self._emails.quota_alert(account.email, threshold, plan, figures.quota)
        assert figures.charges is not None, "crossed: an amount threshold is crossed only by measured charges"
        return self._emails.charges_alert(account.email, threshold, plan, figures.charges)

    def _claim(self, account: Account, mark: str) -> bool:
        """Whether this check won the right to send `mark` (see the module docstring)."""
        won = False
        kind, (_, period_start) = mark_kind(mark), mark_parts(mark)

        def decide(row: Account) -> Account | None:
            nonlocal won
            won = False
            now = int(self._clock())
            alerts = row.alerts_sent or AlertsSent()
            same_kind = [other for other in alerts.marks if mark_kind(other) == kind]
            if any(mark_parts(other)[1] > period_start for other in same_kind):
                return None  # a late check of a period already over: its alerts no longer matter
            live_claim = any(claim == mark and at > now - self._lease for claim, at in alerts.claimed)
            if mark in alerts.sent or live_claim:
                return None
            won = True
            return replace(
                row,
                alerts_sent=AlertsSent(
                    tuple(other for other in alerts.sent if _current(other, kind, period_start)),
                    (
                        *(
                            claim
                            for claim in alerts.claimed
                            if claim[0] != mark and _current(claim[0], kind, period_start)
                        ),
                        (mark, now),
                    ),
                ),
            )

        change_account(self._accounts, account.email, decide)
        return won

    def _settle(self, account: Account, mark: str, sent: bool) -> None:
        """The claim becomes `sent`, or (the email failed) is released for the next check."""

        def decide(row: Account) -> Account | None:
            alerts = row.alerts_sent
            if alerts is None or not any(claim == mark for claim, _ in alerts.claimed):
                return None  # taken over by a later check (the lease ran out), or a later period began
            claims = tuple(claim for claim in alerts.claimed if claim[0] != mark)
            done = (*alerts.sent, mark) if sent and mark not in alerts.sent else alerts.sent
            return replace(row, alerts_sent=AlertsSent(done, claims))

        change_account(self._accounts, account.email, decide)


def _current(mark: str, kind: str, period_start: int) -> bool:
    """Whether `mark` is kept beside a new claim of `kind` for the period at `period_start`: marks of
    another kind, and of this kind's same or later period."""
    return mark_kind(mark) != kind or mark_parts(mark)[1] >= period_start


def crossed_this_period(account: Account, period_starts: Mapping[ThresholdKind, int]) -> tuple[str, ...]:
    """The thresholds (ids) emailed, or being emailed, in the current period of their kind
    (`period_starts`: the quota period's start, and the billing period's when there is one): what the
    account page shows as crossed."""
    alerts = account.alerts_sent
    if alerts is None:
        return ()
    found = [
        threshold_id
        for threshold_id, start in map(mark_parts, alerts.marks)
        if period_starts.get(ThresholdKind(mark_kind(threshold_id))) == start
    ]
    return tuple(dict.fromkeys(found))
