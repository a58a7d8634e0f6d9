"""What the account page shows: plan and status (and why the key is cut off), usage this billing
period, the quota left, the amount so far, and the keys (ids and dates, never values).

Each figure comes from the place that is the truth for it, at a bounded cost per page view:
- the billing period and the amount so far: Stripe's preview of the upcoming invoice (one call);
- billable calls: the usage reporter's per-object records for the customer in that period (one
  DynamoDB query on the usage reports table's `byCustomer` index; never a scan of the S3 ledger);
- the quota left: API Gateway's usage plan for the current key (GetUsage for one key and day).
A figure that cannot be read right now is left out and named in `unavailable`; the rest still shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from tollgate.domain.errors import DownstreamError
from tollgate.domain.account import Account, AccountStatus, KeyRecord
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.plans import Plan, PlanCatalog
from tollgate.ports import AccountBilling, PlanUsage, UsageReports


@dataclass(frozen=True)
class AccountOverview:
    account: Account
    plan: Plan
    keys: tuple[KeyRecord, ...]
    invoice: UpcomingInvoice | None = None  # the period and the amount so far
    billable_calls: int | None = None
    quota_left: int | None = None
    quota: int | None = None
    unavailable: tuple[str, ...] = ()  # "amount", "usage", "quota": figures that could not be read now


class AccountOverviews:
    def __init__(self, billing: AccountBilling, plan_usage: PlanUsage, reports: UsageReports | None,
                 plans: PlanCatalog, clock: Callable[[], float] = time.time):
        self._plans = plans
        self._billing = billing
        self._plan_usage = plan_usage
        self._reports = reports  # None: this deployment does not report usage itself (usage_reporter=moesif)
        self._clock = clock

    def of(self, account: Account) -> AccountOverview:
        unavailable: list[str] = []
        plan = self._plans.get(account.plan_id)
        invoice = billable = quota_left = quota = None
        if account.subscription_id and account.status is not AccountStatus.CANCELED:
            invoice = _or_none(lambda: self._billing.upcoming_invoice(account.subscription_id), "amount", unavailable)
        if invoice is not None and account.customer_id and self._reports is not None:
            billable = _or_none(lambda: self._reports.billable_calls(
                account.customer_id, invoice.period_start, invoice.period_end), "usage", unavailable)
        elif account.status is not AccountStatus.CANCELED and not plan.is_free:  # free: nothing billed to show
            unavailable.append("usage")
        if account.api_key_id and account.status is not AccountStatus.CANCELED:
            today = datetime.fromtimestamp(self._clock(), timezone.utc).date()
            left = _or_none(lambda: self._plan_usage.quota_left(account.api_key_id, plan, today), "quota", unavailable)
            quota_left, quota = left if left is not None else (None, None)
        return AccountOverview(account, plan, account.key_records, invoice, billable, quota_left, quota,
                               tuple(dict.fromkeys(unavailable)))


def _or_none(read: Callable[[], object], figure: str, unavailable: list[str]):
    try:
        return read()
    except DownstreamError:
        unavailable.append(figure)
        return None
