"""Changing an account's plan without changing its key: the account page's request, the change a
Checkout completes, and keeping Stripe billing what the row says.

The plan is what the ROW says the customer chose; Stripe's subscription items are what billing
needs for it, never the other way round. So the webhook and the reconciler never move an account to
the plan of a subscription's newest item: they make Stripe match the row (`align`), which is also
why changing to a plan and back within one period works (the item of the plan changed back to is
still there, and stays the one billed).

Every call is billed at the price of the plan the account was on when it was made. Stripe does not
bill what a meter recorded against a price before a mid-period switch to another meter price ("On
future invoices, we reflect only usage that occurs after the update", https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup,
"Update prices mid-cycle"), so a change never replaces a price: each paid plan has its own meter, a
change to a paid plan ADDS that plan's price as a new subscription item (billed from now), the old
item stays until the period's invoice has billed what its meter recorded, and the usage reporter
sends each call to the meter of the price recorded with the plan the account was on at the call's
time (`Account.plan_at`). Once the period of the change is invoiced (and Stripe's one-hour grace for
late meter events is over), `align` drops the other items. A change to a free plan ends the
subscription at the period's end; the calls made until the change are billed then.

Nothing is done twice and nothing is left half-done:
1. the INTENT is recorded on the row first (`PlanIntent`, with an idempotency key derived from the
   account, the plan and the row's version);
2. Stripe is asked with that key (a lost answer, a retry, the webhook or the reconciler asking again
   get the same subscription back; a paid plan for a customer without one first adopts a live
   subscription of that price it already has);
3. the row records the plan (the intent goes) — a write that fails is completed from the intent by
   whoever comes next: the customer's next click, the webhook, or the reconciler, which follows up
   every row with an intent;
4. the keys follow the row (tollgate.domain.key_enforcement).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.account_store import with_fresh_row
from tollgate.domain.billing_state import SubscriptionState
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.errors import PlanChangeRefused
from tollgate.domain.key_enforcement import KeyEnforcer
from tollgate.domain.plan_state import PLAN_CHANGES_KEPT, PLAN_HISTORY_SECONDS, PlanIntent
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import Billing
from tollgate.plans import Plan, PlanCatalog, UnknownPlan

# Stripe takes meter events for a period up to an hour after it ends before it finalizes the
# invoice (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
INVOICE_GRACE_SECONDS = 3600
ACCOUNT_PAGE_CAUSE = "account page"
CHECKOUT_CAUSE = "checkout"


@dataclass(frozen=True)
class PlanChangeOutcome:
    account: Account
    checkout_url: str | None = None  # the new plan needs a card (or a debt paid) first: it waits for Checkout


class PlanChanges:
    def __init__(
        self,
        accounts: Accounts,
        billing: Billing,
        checkout: PaymentMethodCheckout,
        plans: PlanCatalog,
        enforcer: KeyEnforcer,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._billing = billing
        self._checkout = checkout
        self._plans = plans
        self._enforcer = enforcer
        self._clock = clock

    def request(self, account: Account, plan_id: str, request_id: str, return_url: str) -> PlanChangeOutcome:
        """The customer asks for `plan_id` on the account page (`account`: the row as read for them).
        A plan that needs a card when the current one did not, or any paid plan while the customer
        owes an open invoice, sends them through Checkout first (`checkout_url`: the webhook pays what
        is owed and applies the change once the card is saved). Raises PlanChangeRefused (saying what
        to do), ConcurrentUpdate or DownstreamError (nothing changed, or what was asked of Stripe is
        completed from the row's intent)."""
        try:
            target = self._plans.get(plan_id)
        except UnknownPlan as unknown:
            raise PlanChangeRefused(f"{unknown}.") from None
        changed = with_fresh_row(
            self._accounts, account.email, lambda row: self._request(row, target, request_id, return_url), first=account
        )
        if changed.checkout_url is None:
            self._enforcer.enforce(changed.account)
        return changed

    def _request(self, row: Account | None, target: Plan, request_id: str, return_url: str) -> PlanChangeOutcome:
        if row is None:
            raise PlanChangeRefused("This account no longer exists.")
        if row.plan_intent is not None:
            asked = row.plan_intent.to_plan
            row = self.complete(row)  # finish the change asked before this one first
            if asked == target.id:  # the customer asking again for a change whose answer was lost
                return PlanChangeOutcome(row)
        current = self._plans.get(row.plan_id)
        owes = bool(row.customer_id and not target.is_free and self._billing.open_invoices(row.customer_id))
        if row.status is not AccountStatus.ACTIVE and not (row.status is AccountStatus.SUSPENDED and owes):
            raise PlanChangeRefused(
                "Only an active account can change plans: settle what it owes first (Manage billing), then try again."
            )
        if target.id == current.id:
            raise PlanChangeRefused(f"This account is on the {target.name} plan already.")
        now = int(self._clock())
        if row.plan_changes_since(now - PLAN_HISTORY_SECONDS) >= PLAN_CHANGES_KEPT:
            raise PlanChangeRefused(
                f"This account changed plans {PLAN_CHANGES_KEPT} times in the last "
                f"{PLAN_HISTORY_SECONDS // 86400} days: try again once the oldest change is older."
            )
        if owes or (target.requires_payment_method and not current.requires_payment_method):
            waiting = self._accounts.update(row.with_pending_plan(target.id), row)
            return PlanChangeOutcome(waiting, self._checkout.start_for_account(waiting, request_id, return_url))
        intended = self._accounts.update(self.intend(row, target, ACCOUNT_PAGE_CAUSE), row)
        return PlanChangeOutcome(self.complete(intended))

    def intend(self, row: Account, target: Plan, cause: str) -> Account:
        """The row recording that `target` is being asked of Stripe (step 1; the caller writes it)."""
        email_hash = hashlib.sha256(row.email.encode()).hexdigest()[:16]
        key = f"tollgate-plan-{email_hash}-{target.id}-v{row.version}"
        return row.with_pending_plan(None).with_plan_intent(PlanIntent(target.id, key, int(self._clock()), cause))

    def complete(self, row: Account) -> Account:
        """Steps 2 and 3 for the row's intent: Stripe bills the intended plan, then the row records it
        (or, for a plan no longer sold, forgets the intent). Returns the row as stored; raises
        ConcurrentUpdate when the row changed meanwhile (read it again: the intent is still there, or
        someone completed it)."""
        intent = row.plan_intent
        assert intent is not None
        try:
            target = self._plans.get(intent.to_plan)
        except UnknownPlan:
            return self._accounts.update(row.with_plan_intent(None), row)
        subscription_id = self._bill(row, target, intent.idempotency_key)
        changed = row.with_plan(target, int(self._clock()), intent.cause).with_subscription(subscription_id)
        return self._accounts.update(changed, row)

    def _bill(self, row: Account, target: Plan, idempotency_key: str) -> str | None:
        """Stripe bills `target` from now on; the subscription that does it (None: a free plan's)."""
        subscription_id = row.subscription_id
        if target.price_id is None:
            if subscription_id:
                self._billing.end_at_period_end(subscription_id)
            return subscription_id
        if subscription_id:
            self._billing.switch_price(subscription_id, target.price_id, idempotency_key)
            return subscription_id
        if not row.customer_id:
            raise PlanChangeRefused("This account has no billing account yet: try again in a minute.")
        same_price = [
            subscription
            for subscription in self._billing.live_subscriptions(row.customer_id)
            if subscription.has_price(target.price_id)
        ]
        if same_price:  # made by an earlier attempt whose answer or row write was lost: adopt it
            return min(same_price, key=lambda subscription: subscription.created).id
        return self._billing.subscribe(row.customer_id, target.price_id, idempotency_key)

    # --- Stripe follows the row (webhook and reconciler) ------------------------------------------

    def price_of(self, account: Account) -> str | None:
        """The price the account's plan is billed at: the one recorded with the plan, or (rows from
        before prices were recorded) the settings' price of that plan."""
        return account.price_id or self._plans.get(account.plan_id).price_id

    def misaligned(self, account: Account, subscription: SubscriptionState) -> bool:
        """Stripe does not bill what the row says: the plan's price is missing from the subscription,
        or it ends although the plan is paid (or goes on although the plan is free), or items of earlier
        plans wait to be dropped now that their period is invoiced."""
        price = self.price_of(account)
        if price is None:
            return not subscription.cancel_at_period_end
        return (
            not subscription.has_price(price)
            or subscription.cancel_at_period_end
            or self._tidy_due(account, subscription)
        )

    def align(self, account: Account, subscription: SubscriptionState) -> None:
        """Make Stripe bill what the row says (a live subscription of an active account)."""
        if not self.misaligned(account, subscription):
            return
        price = self.price_of(account)
        if price is None:
            self._billing.end_at_period_end(subscription.id)
            return
        if not subscription.has_price(price) or subscription.cancel_at_period_end:
            self._billing.switch_price(
                subscription.id, price, f"tollgate-align-{subscription.id}-{price}-v{account.version}"
            )
        if self._tidy_due(account, subscription):
            self._billing.drop_prices_except(subscription.id, price)

    def _tidy_due(self, account: Account, subscription: SubscriptionState) -> bool:
        """Items of other prices whose period (the one the last change happened in) is invoiced."""
        if len({item.price_id for item in subscription.items}) < 2:
            return False
        changed_at = account.plan_changes[-1].at if account.plan_changes else 0
        return changed_at < subscription.period_start <= self._clock() - INVOICE_GRACE_SECONDS
