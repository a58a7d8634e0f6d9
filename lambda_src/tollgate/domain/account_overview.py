"""What the account page shows: plan and status (and why the key is cut off), usage this billing
period, the quota left, the amount so far, and the keys (ids and dates, never values).

Each figure comes from the place that is the truth for it, at a bounded cost per page view:
- the billing period and the amount so far: Stripe's preview of the upcoming invoice (one call);
- billable calls: the usage reporter's per-object records for the customer in that period (one
  DynamoDB query on the usage reports table's `byCustomer` index; never a scan of the S3 ledger);
- the quota left: API Gateway's usage plan for the current key (GetUsage for one key and day).
A figure that cannot be read right now is left out and named in `unavailable`; the rest still shows.

After a change from a paid plan to a free one, the account is on the free plan but its subscription
runs to the end of the period (PlanChanges.apply: cancel_at_period_end), and Stripe still bills
the calls made on the paid plan before the change: "Any metered usage is charged for in a final
invoice when the subscription cancels at the end of the billing period"
(https://docs.stripe.com/billing/subscriptions/cancel, "Cancel at end of cycle"). The preview of
that subscription's upcoming invoice is this final invoice ("At any time, you can preview the
upcoming invoice for a subscription ... all the charges that are pending",
https://docs.stripe.com/api/invoices/create_preview), so the page shows its amount and date and
names the paid plans (`ending`), never "nothing to pay".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.errors import DownstreamError
from tollgate.domain.key_ring import KeyRecord
from tollgate.domain.ports.billing import AccountBilling
from tollgate.domain.ports.keys import PlanUsage
from tollgate.domain.ports.metering import UsageReports
from tollgate.plans import Plan, PlanCatalog, UnknownPlan

T = TypeVar("T")


@dataclass(frozen=True)
class EndingSubscription:
    """The subscription of an account now on a free plan, ending with the period: its final invoice
    (the upcoming one) bills this period's calls made on `paid_plans` before the change."""

    paid_plans: tuple[Plan, ...]  # oldest first; empty while the period cannot be read


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
    ending: EndingSubscription | None = None  # on a free plan, with paid calls Stripe still bills this period


class AccountOverviews:
    def __init__(
        self,
        billing: AccountBilling,
        plan_usage: PlanUsage,
        reports: UsageReports | None,
        plans: PlanCatalog,
        clock: Callable[[], float] = time.time,
    ):
        self._plans = plans
        self._billing = billing
        self._plan_usage = plan_usage
        self._reports = reports  # None: this deployment does not report usage itself (usage_reporter=moesif)
        self._clock = clock

    def of(self, account: Account) -> AccountOverview:
        unavailable: list[str] = []
        plan = self._plans.get(account.plan_id)
        invoice: UpcomingInvoice | None = None
        billable = quota_left = quota = None
        # (Each id is read into a name once: the lambdas then see it as the str the `if` found.)
        # (A pooled plan's key is its shard's, shared: API Gateway's count of it is no account's.)
        subscription_id, customer_id, key_id, reports = (
            account.subscription_id,
            account.customer_id,
            None if plan.pooled else account.api_key_id,
            self._reports,
        )
        if subscription_id and account.status is not AccountStatus.CANCELED:
            invoice = _or_none(lambda: self._billing.upcoming_invoice(subscription_id), "amount", unavailable)
        ending = self._ending(account, plan, invoice)
        if invoice is not None and customer_id and reports is not None:
            billable = _or_none(
                lambda: reports.billable_calls(customer_id, invoice.period_start, invoice.period_end),
                "usage",
                unavailable,
            )
        elif account.status is not AccountStatus.CANCELED and (not plan.is_free or ending is not None):
            unavailable.append("usage")  # (on a free plan with nothing billed, there is nothing to show)
        if key_id and account.status is not AccountStatus.CANCELED:
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            left = _or_none(lambda: self._plan_usage.quota_left(key_id, plan, today), "quota", unavailable)
            quota_left, quota = left if left is not None else (None, None)
        return AccountOverview(
            account,
            plan,
            account.key_records,
            invoice,
            billable,
            quota_left,
            quota,
            tuple(dict.fromkeys(unavailable)),
            ending,
        )

    def _ending(self, account: Account, plan: Plan, invoice: UpcomingInvoice | None) -> EndingSubscription | None:
        """An account on a free plan that still has a subscription is on its way from a paid plan
        (the lifecycle forgets the subscription once it has ended); the paid plans are those it
        was on during the invoice's period, as its plan changes record them."""
        if not plan.is_free or not account.subscription_id or account.status is AccountStatus.CANCELED:
            return None
        if invoice is None:
            return EndingSubscription(())
        later = [change for change in account.plan_changes if change.at > invoice.period_start]
        plan_ids = [later[0].from_plan if later else account.plan_id, *(change.to_plan for change in later)]
        plans = (self._named(plan_id) for plan_id in dict.fromkeys(plan_ids))
        return EndingSubscription(tuple(plan for plan in plans if plan is not None and not plan.is_free))

    def _named(self, plan_id: str | None) -> Plan | None:
        try:
            return self._plans.get(plan_id)
        except UnknownPlan:  # removed from the settings since: Stripe bills its calls all the same, unnamed
            return None


def _or_none(read: Callable[[], T], figure: str, unavailable: list[str]) -> T | None:
    try:
        return read()
    except DownstreamError:
        unavailable.append(figure)
        return None
