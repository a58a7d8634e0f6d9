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

import time
from collections.abc import Callable
from dataclasses import replace

from tollgate.domain.account import Account
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.account_store import change_account
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.mail import Mailer
from tollgate.domain.spend_control import AlertsSent, SpendFigures, Threshold, crossed, thresholds
from tollgate.plans import Plan

# Longer than any check takes (a few row writes and one SES call, each with a timeout of seconds),
# so a live sender's claim is never taken over; short enough that a dead sender's alert goes out
# within the reporter's next objects (the 5-minute promise counts from the claim's run).
CLAIM_LEASE_SECONDS = 120


class UsageAlerts:
    def __init__(self, accounts: Accounts, mailer: Mailer, emails: AccountEmails,
                 clock: Callable[[], float] = time.time, claim_lease_seconds: int = CLAIM_LEASE_SECONDS):
        self._accounts = accounts
        self._mailer = mailer
        self._emails = emails
        self._clock = clock
        self._lease = claim_lease_seconds

    def check(self, account: Account, plan: Plan, figures: SpendFigures) -> tuple[Threshold, ...]:
        """Email every threshold `figures` cross that was not emailed this period; the ones emailed now.
        Raises DownstreamError when an email could not be sent (its claim released: the next check
        sends it)."""
        due = [threshold for threshold in thresholds(account.spend_settings, plan)
               if crossed(threshold, plan, figures.usage, figures.spent)]
        emailed: list[Threshold] = []
        for threshold in due:
            if not self._claim(account, threshold, figures.usage.start):
                continue
            try:
                self._mailer.send(self._emails.usage_alert(account.email, threshold, plan, figures))
            except Exception:
                self._settle(account, threshold, figures.usage.start, sent=False)
                raise
            self._settle(account, threshold, figures.usage.start, sent=True)
            emailed.append(threshold)
        return tuple(emailed)

    def _claim(self, account: Account, threshold: Threshold, period_start: int) -> bool:
        """Whether this check won the right to send `threshold` (see the module docstring)."""
        won = False

        def decide(row: Account) -> Account | None:
            nonlocal won
            won = False
            now = int(self._clock())
            alerts = row.alerts_sent
            if alerts is not None and alerts.period_start > period_start:
                return None  # a late check of a period already over: its alerts no longer matter
            if alerts is None or alerts.period_start < period_start:
                alerts = AlertsSent(period_start)
            live_claim = any(claim == threshold.id and at > now - self._lease for claim, at in alerts.claimed)
            if threshold.id in alerts.sent or live_claim:
                return None
            claims = tuple(claim for claim in alerts.claimed if claim[0] != threshold.id)
            won = True
            return replace(row, alerts_sent=replace(alerts, claimed=(*claims, (threshold.id, now))))

        change_account(self._accounts, account.email, decide)
        return won

    def _settle(self, account: Account, threshold: Threshold, period_start: int, sent: bool) -> None:
        """The claim becomes `sent`, or (the email failed) is released for the next check."""

        def decide(row: Account) -> Account | None:
            alerts = row.alerts_sent
            if alerts is None or alerts.period_start != period_start:
                return None
            claims = tuple(claim for claim in alerts.claimed if claim[0] != threshold.id)
            done = (*alerts.sent, threshold.id) if sent and threshold.id not in alerts.sent else alerts.sent
            return replace(row, alerts_sent=replace(alerts, sent=done, claimed=claims))

        change_account(self._accounts, account.email, decide)


def crossed_this_period(account: Account, period_start: int | None) -> tuple[str, ...]:
    """The thresholds (ids) emailed, or being emailed, in the period starting at `period_start`
    (None: the latest period alerts were recorded for): what the account page shows as crossed."""
    alerts = account.alerts_sent
    if alerts is None or (period_start is not None and alerts.period_start < period_start):
        return ()
    return tuple(dict.fromkeys((*alerts.sent, *(claim for claim, _ in alerts.claimed))))
