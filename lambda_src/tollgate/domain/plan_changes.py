"""Changing an account's plan without changing its key: the account page's request, the change a
Checkout completes, and a change made in Stripe (dashboard, customer portal) followed by the webhook
and the reconciler.

Every call is billed at the price of the plan the account was on when it was made. Stripe does not
bill what a meter recorded against a price before a mid-period switch to another meter price ("On
future invoices, we reflect only usage that occurs after the update", https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup,
"Update prices mid-cycle"), so a change never replaces a price: each paid plan has its own meter, a
change to a paid plan ADDS that plan's price as a new subscription item (billed from now), the old
item stays until the period's invoice has billed what its meter recorded, and the usage reporter
sends each call to the meter of the plan the account was on at the call's time
(`Account.plan_at`). Once the period of the change is invoiced (and Stripe's one-hour grace for
late meter events is over), `tidy` drops the old items. A change to a free plan ends the
subscription at the period's end; the calls made until the change are billed then.

The order keeps nothing in two plans and nothing unbilled: Stripe first (a failure changes
nothing), then the row (the reconciler completes a change whose row write failed, following the
subscription's newest price), then the keys: each leaves every other usage plan before joining the
new one (API Gateway allows one usage plan per key and stage). A key caught between the two is in
no usage plan: cut off, never billed at the wrong price, and moved again by the next attempt or the
reconciler (the row says its key does not match).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.errors import PlanChangeRefused
from tollgate.domain.models import Account, AccountStatus
from tollgate.domain.billing_state import SubscriptionState
from tollgate.plans import Plan, PlanCatalog, UnknownPlan
from tollgate.ports import Accounts, ApiKeys, Billing

# Stripe takes meter events for a period up to an hour after it ends before it finalizes the
# invoice (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
INVOICE_GRACE_SECONDS = 3600
ACCOUNT_PAGE_CAUSE = "account page"
CHECKOUT_CAUSE = "checkout"


@dataclass(frozen=True)
class PlanChangeOutcome:
    account: Account
    checkout_url: str | None = None  # the new plan needs a card first: the change waits for Checkout


def move_keys(keys: ApiKeys, plans: PlanCatalog, key_ids: Iterable[str], plan: Plan) -> None:
    """Each key leaves every other plan's usage plan, then joins `plan`'s."""
    for key_id in key_ids:
        for other in plans:
            if other.usage_plan_id != plan.usage_plan_id:
                keys.detach_from_plan(key_id, other.usage_plan_id)
        keys.attach_to_plan(key_id, plan.usage_plan_id)


class PlanChanges:
    def __init__(self, accounts: Accounts, keys: ApiKeys, billing: Billing, checkout: PaymentMethodCheckout,
                 plans: PlanCatalog, clock: Callable[[], float] = time.time):
        self._accounts = accounts
        self._keys = keys
        self._billing = billing
        self._checkout = checkout
        self._plans = plans
        self._clock = clock

    def request(self, account: Account, plan_id: str, request_id: str, return_url: str) -> PlanChangeOutcome:
        """The customer asks for `plan_id` on the account page. A plan that needs a card when the
        current one did not sends them through Checkout first (`checkout_url`; the webhook applies
        the change once the card is saved). Raises PlanChangeRefused (saying what to do),
        ConcurrentUpdate or DownstreamError (nothing changed, or the reconciler completes it)."""
        try:
            target = self._plans.get(plan_id)
        except UnknownPlan as unknown:
            raise PlanChangeRefused(f"{unknown}.") from None
        current = self._plans.get(account.plan_id)
        if account.status is not AccountStatus.ACTIVE:
            raise PlanChangeRefused("Only an active account can change plans: settle what it owes first (Manage "
                                    "billing), then try again.")
        if target.id == current.id:
            raise PlanChangeRefused(f"This account is on the {target.name} plan already.")
        if target.requires_payment_method and not current.requires_payment_method:
            waiting = account.with_pending_plan(target.id)
            self._accounts.save_plan(waiting, account)
            url = self._checkout.start_for_account(account, request_id, return_url)
            return PlanChangeOutcome(waiting, url)
        changed = self.apply(account, target, ACCOUNT_PAGE_CAUSE, request_id)
        self._accounts.save_plan(changed, account)
        self.settle_keys(changed)
        return PlanChangeOutcome(changed)

    def apply(self, account: Account, target: Plan, cause: str, idempotency_id: str) -> Account:
        """Stripe bills `target` from now on; the row as it is then (for the caller to save)."""
        subscription_id = account.subscription_id
        idempotency_key = f"tollgate-plan-{idempotency_id}"
        if target.price_id is None:
            if subscription_id:
                self._billing.end_at_period_end(subscription_id)
        elif subscription_id:
            self._billing.switch_price(subscription_id, target.price_id, idempotency_key)
        else:
            subscription_id = self._billing.subscribe(account.customer_id, target.price_id, idempotency_key)
        return account.with_plan(target.id, int(self._clock()), cause).with_subscription(subscription_id)

    def settle_keys(self, account: Account) -> None:
        """Move the keys of a saved active row to its plan's usage plan, then say they match."""
        plan = self._plans.get(account.plan_id)
        move_keys(self._keys, self._plans, account.callable_key_ids(self._clock()), plan)
        self._accounts.record_key_sync(account, synced=True)

    def follow(self, account: Account, subscription: SubscriptionState, cause: str) -> Account:
        """The row on the plan of the subscription's newest price, when that is another paid plan (a
        change made in Stripe, or one whose row write failed). A subscription set to end belongs to
        an account on its way to a free plan: its price says nothing about the plan."""
        price_id = subscription.current_price_id
        plan = self._plans.for_price(price_id) if price_id else None
        if plan is None or subscription.cancel_at_period_end or plan.id == self._plans.get(account.plan_id).id:
            return account
        return account.with_plan(plan.id, int(self._clock()), cause)

    def needs_tidying(self, account: Account, subscription: SubscriptionState) -> bool:
        """Items of earlier plans whose period (the one the change happened in) is invoiced."""
        if len({item.price_id for item in subscription.items}) < 2:
            return False
        changed_at = account.plan_changes[-1].at if account.plan_changes else 0
        return changed_at < subscription.period_start <= self._clock() - INVOICE_GRACE_SECONDS

    def tidy(self, account: Account, subscription: SubscriptionState) -> None:
        if self.needs_tidying(account, subscription) and subscription.current_price_id:
            self._billing.drop_prices_except(subscription.id, subscription.current_price_id)
