"""Buying prepaid credit: the account page's "Buy credits" opens Stripe Checkout in payment mode for one
of the plan's packs, and the signed webhook of the paid session adds the pack's credit to the account's
ledger (tollgate.domain.credits), once.

- The order (account, customer, plan, pack, credit, price, currency) is written on the Checkout session
  when it is opened (port CreditSales), and read back from the webhook's session: the credit added is
  what was sold then, whatever the plan's packs have become since.
- Only a session whose `payment_status` is `paid` adds credit. Stripe's fulfilment guide: completed is not
  paid for payment methods with delayed notification, which send `checkout.session.async_payment_succeeded`
  once paid (https://docs.stripe.com/checkout/fulfillment). Both events carry the session, and the
  purchase entry's id is the session's, so the credit is added once whichever events arrive, however
  often (a redelivery, or both events of one session, is `duplicate`).
- The session's customer must be the account's (found by its Stripe customer): an order naming another
  account is ignored, so credit never lands on an account that did not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.domain.account import Account
from tollgate.domain.billing_state import BillingEvent, CreditPackOrder
from tollgate.domain.checkout import BILLABLE_STATUSES, with_query
from tollgate.domain.credits import CreditBook, CreditEntry
from tollgate.domain.errors import CreditPurchaseRefused, ValidationFailed
from tollgate.domain.lifecycle import Outcome
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import CreditSales
from tollgate.domain.validation import FIELD_PACK
from tollgate.plans import CreditPack, PlanCatalog, UnknownPlan

CHECKOUT_COMPLETED = "checkout.session.completed"
ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
CREDITS_OUTCOME_PARAMETER = "credits"  # the account page reads ?credits=success|cancel on its way back
ENTRIES_SHOWN = 20  # the account page lists the newest entries


@dataclass(frozen=True)
class CreditView:
    """The account page's credit section: the balance, the price of a call, what can be bought, the
    newest entries (newest first). Amounts in micro-units of `currency`."""

    balance: int
    currency: str
    unit_price: int
    packs: tuple[CreditPack, ...]
    entries: tuple[CreditEntry, ...]


class CreditPurchases:
    """Sells a prepaid plan's credit packs and adds what was paid for (see the module docstring)."""

    def __init__(self, accounts: Accounts, sales: CreditSales, book: CreditBook, plans: PlanCatalog):
        self._accounts = accounts
        self._sales = sales
        self._book = book
        self._plans = plans

    def start(self, account: Account, pack_id: str, request_id: str, return_url: str) -> str:
        """The Checkout URL that sells the pack `pack_id` of the account's plan; back at `return_url` with
        `?credits=success` or `?credits=cancel`. `request_id` makes the Stripe call idempotent across
        the SDK's retries of this one request."""
        plan = self._plans.get(account.plan_id)
        if plan.prepaid is None:
            raise CreditPurchaseRefused(
                f"Your plan ({plan.name}) is not prepaid: its calls are billed on your "
                "invoice, so there is no credit to buy."
            )
        if account.status not in BILLABLE_STATUSES or not account.customer_id or not account.account_id:
            raise CreditPurchaseRefused(
                "This account cannot buy credit: it has no billing account, or it is "
                "canceled. Sign up again to use the API."
            )
        try:
            pack = plan.prepaid.pack(pack_id)
        except UnknownPlan as unknown:
            raise ValidationFailed(str(unknown), {FIELD_PACK: str(unknown)}) from None
        order = CreditPackOrder(
            account.account_id, account.customer_id, plan.id, pack.id, pack.credit, pack.price, plan.prepaid.currency
        )
        return self._sales.create_credit_checkout(
            order,
            success_url=with_query(return_url, {CREDITS_OUTCOME_PARAMETER: "success"}),
            cancel_url=with_query(return_url, {CREDITS_OUTCOME_PARAMETER: "cancel"}),
            idempotency_key=f"tollgate-credits-{request_id}",
        )

    @staticmethod
    def handles(event: BillingEvent) -> bool:
        """Whether `event` is about a credit pack's Checkout session (the webhook's other events go to
        the billing lifecycle)."""
        return event.type in (CHECKOUT_COMPLETED, ASYNC_PAYMENT_SUCCEEDED) and event.credit_pack is not None

    def apply(self, event: BillingEvent) -> Outcome:
        """Add the credit of a paid pack's session, once. Raises DownstreamError (the webhook answers
        503 and Stripe retries)."""
        payment = event.credit_pack
        if payment is None or not payment.paid:
            return Outcome.IGNORED  # not paid yet: async_payment_succeeded will say when it is
        order = payment.order
        account = self._accounts.find_by_customer_id(order.customer_id)
        if account is None or account.account_id != order.account_id:
            return Outcome.IGNORED
        added = self._book.purchase(order.account_id, payment.session_id, order.credit, event.created, order.pack_id)
        return Outcome.APPLIED if added else Outcome.DUPLICATE

    def view(self, account: Account) -> CreditView | None:
        """The credit section of a prepaid plan's account; None on any other plan."""
        plan = self._plans.get(account.plan_id)
        if plan.prepaid is None or not account.account_id:
            return None
        entries = self._book.entries(account.account_id)
        return CreditView(
            self._book.balance(account.account_id),
            plan.prepaid.currency,
            plan.prepaid.unit_price,
            plan.prepaid.packs,
            tuple(reversed(entries[-ENTRIES_SHOWN:])),
        )
