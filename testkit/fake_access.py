"""In-memory fakes of the customer-access ports (tollgate.domain.ports: Mailer, CustomerAccess,
AccountBilling, PlanUsage), failing on demand like every fake (testkit.faults.FaultyFake)."""

from __future__ import annotations

import itertools
import re
from datetime import date

from testkit.faults import FaultyFake
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.customer_access import EmailLink, KeyRetirement, Session
from tollgate.domain.errors import BillingPortalNotSetUp, DownstreamError
from tollgate.domain.models import Email
from tollgate.domain.ports.billing import AccountBilling
from tollgate.domain.ports.customer_access import CustomerAccess
from tollgate.domain.ports.keys import PlanUsage
from tollgate.domain.ports.mail import Mailer
from tollgate.plans import Plan

_LINK = re.compile(r"#(?:confirm|signin)=([A-Za-z0-9_-]+)")


class FakeMailer(FaultyFake, Mailer):
    port = "ses"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        with self._call("send", email.to), self._lock:
            self.sent.append(email)

    def to(self, address: str) -> list[Email]:
        return [email for email in self.sent if email.to == address]

    def last_token(self, address: str) -> str:
        """The token of the newest link sent to `address` (what a customer clicks)."""
        (token,) = _LINK.findall(self.to(address)[-1].text)
        return token


class FakeCustomerAccess(FaultyFake, CustomerAccess):
    """The customer access table: conditional deletes and counts as DynamoDB makes them (one winner)."""

    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.links: dict[str, EmailLink] = {}
        self.counts: dict[tuple[str, int], int] = {}
        self.sessions: dict[str, Session] = {}
        self.retirements: dict[str, KeyRetirement] = {}

    def put_link(self, link: EmailLink) -> None:
        with self._call("put_link", link.purpose), self._lock:
            self.links[link.token_hash] = link

    def get_link(self, token_hash: str) -> EmailLink | None:
        with self._call("get_link"), self._lock:
            return self.links.get(token_hash)

    def use_link(self, token_hash: str) -> bool:
        with self._call("use_link"), self._lock:
            return self.links.pop(token_hash, None) is not None

    def drop_links_to(self, email: str) -> int:
        with self._call("drop_links_to", email), self._lock:
            dropped = [token_hash for token_hash, link in self.links.items() if link.email == email]
            for token_hash in dropped:
                del self.links[token_hash]
            return len(dropped)

    def count_email(self, address_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        with self._call("count_email"), self._lock:
            sent = self.counts.get((address_hash, window_start), 0)
            if sent >= limit:
                return False
            self.counts[address_hash, window_start] = sent + 1
            return True

    def put_session(self, session: Session) -> None:
        with self._call("put_session", session.email), self._lock:
            self.sessions[session.token_hash] = session

    def get_session(self, token_hash: str) -> Session | None:
        with self._call("get_session"), self._lock:
            return self.sessions.get(token_hash)

    def delete_session(self, token_hash: str) -> None:
        with self._call("delete_session"), self._lock:
            self.sessions.pop(token_hash, None)

    def sessions_of(self, email: str) -> list[str]:
        with self._call("sessions_of", email), self._lock:
            return [session.token_hash for session in self.sessions.values() if session.email == email]

    def remind_retirement(self, reminder: KeyRetirement) -> None:
        with self._call("remind_retirement", reminder.key_id), self._lock:
            self.retirements[reminder.key_id] = reminder

    def due_retirements(self, now: int) -> list[KeyRetirement]:
        with self._call("due_retirements", now), self._lock:
            return sorted((r for r in self.retirements.values() if r.due_at <= now), key=lambda r: r.due_at)

    def forget_retirement(self, key_id: str) -> None:
        with self._call("forget_retirement", key_id), self._lock:
            self.retirements.pop(key_id, None)


class FakeAccountBilling(FaultyFake, AccountBilling):
    """The upcoming invoice (`invoices`: subscription id -> UpcomingInvoice) and portal sessions, opened
    only while the Stripe account holds Tollgate's portal configuration (`portal_set_up`)."""

    port = "stripe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.invoices: dict[str, UpcomingInvoice] = {}
        self.portal_sessions: list[tuple[str, str]] = []  # (customer id, return URL)
        self.portal_set_up = True
        self._ids = itertools.count(1)

    def upcoming_invoice(self, subscription_id: str) -> UpcomingInvoice:
        with self._call("upcoming_invoice", subscription_id):
            if subscription_id not in self.invoices:
                raise DownstreamError(self.port, f"no upcoming invoice for {subscription_id}", retryable=False)
            return self.invoices[subscription_id]

    def portal_url(self, customer_id: str, return_url: str) -> str:
        with self._call("portal_url", customer_id):
            if not self.portal_set_up:
                raise BillingPortalNotSetUp("no customer portal configuration of make stripe-setup")
            self.portal_sessions.append((customer_id, return_url))
            return f"https://billing.stripe.test/p/session/bps_{next(self._ids):04d}"


class FakePlanUsage(FaultyFake, PlanUsage):
    """GetUsage: calls per key per day (`used`, monthly quota periods) against the quota of the
    key's plan."""

    port = "apigateway"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.used: dict[tuple[str, date], int] = {}
        self.plans_asked: list[str] = []  # the usage plan of every call

    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        with self._call("calls_by_key"):
            totals: dict[str, int] = {}
            for (key_id, day), calls in self.used.items():
                if first_day <= day <= last_day:
                    totals[key_id] = totals.get(key_id, 0) + calls
            return totals

    def quota_left(self, key_id: str, plan: Plan, day: date) -> tuple[int, int]:
        with self._call("quota_left", key_id):
            self.plans_asked.append(plan.usage_plan_id)
            return max(plan.quota_limit - self._used_in_month(key_id, day), 0), plan.quota_limit

    def _used_in_month(self, key_id: str, day: date) -> int:
        return sum(
            calls
            for (key, when), calls in self.used.items()
            if key == key_id and (when.year, when.month) == (day.year, day.month) and when <= day
        )
