"""What the domain reads of the billing service (Stripe), as plain values: a verified webhook event,
a subscription and its items, a page of the subscription list, an invoice payment's outcome, a
Checkout session and what became of it, and the upcoming invoice. Adapters build them; services
compare accounts with them."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.domain.account import AccountStatus


@dataclass(frozen=True)
class UpcomingInvoice:
    """Stripe's preview of a subscription's next invoice: the amount so far this billing period."""

    amount_due: int  # in the currency's minor unit (cents)
    currency: str
    period_start: int  # epoch seconds
    period_end: int


@dataclass(frozen=True)
class BillingEvent:
    """A verified Stripe event reduced to what the billing lifecycle needs, so no SDK object
    crosses into the domain. Ids are None when the event type does not carry them."""

    id: str
    type: str
    created: int  # epoch seconds, as stamped by Stripe
    customer_id: str | None = None
    subscription_id: str | None = None
    checkout_mode: str | None = None  # checkout.session.completed only: "setup", "payment", ...
    setup_intent_id: str | None = None  # checkout.session.completed in setup mode
    checkout_session_id: str | None = None  # checkout.session.completed: the session (cs_...)
    failure_reason: str | None = None  # invoice.payment_failed: what failed and whether Stripe retries
    credit_pack: CreditPackPayment | None = None  # a Checkout session in payment mode that sold a credit pack


@dataclass(frozen=True)
class CreditPackOrder:
    """What a Checkout session in payment mode sells: `credit` micro-units of `currency` (the pack
    `pack_id` of the prepaid plan `plan_id`) to the account `account_id`, whose Stripe customer pays
    `price` in the currency's minor unit. The adapter writes all of it on the session, so what the
    webhook adds is what was sold then, whatever the plan's packs have become since."""

    account_id: str
    customer_id: str
    plan_id: str
    pack_id: str
    credit: int
    price: int
    currency: str


@dataclass(frozen=True)
class CreditPackPayment:
    """A credit pack's Checkout session as its `checkout.session.completed` (or
    `checkout.session.async_payment_succeeded`) event tells it: the order, and whether Stripe has the
    money (`paid`: the session's payment_status is `paid`)."""

    session_id: str
    order: CreditPackOrder
    paid: bool


@dataclass(frozen=True)
class InvoicePayment:
    """What paying a subscription's open invoices did: how many were paid, and the card's
    decline message when one was refused (the rest are then left open)."""

    paid: int
    declined: str | None = None


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice the customer owes: open, and already attempted by Stripe."""

    id: str
    customer_id: str
    subscription_id: str | None  # the subscription it bills (possibly one that has ended since)
    amount_due: int  # in the currency's minor unit
    currency: str
    created: int  # epoch seconds

    def describe(self) -> str:
        """For the account page and the history: which invoice, and how much."""
        return f"Invoice {self.id} ({self.amount_due / 100:.2f} {self.currency.upper()}) is unpaid"


@dataclass(frozen=True)
class CheckoutSession:
    """A Checkout session Tollgate opened to collect a payment method, as far as the signup page
    may learn about it on its way back from Stripe."""

    id: str
    customer_id: str
    created: int  # epoch seconds
    complete: bool


@dataclass(frozen=True)
class CheckoutOutcome:
    """What became of an account after its Checkout: `settled` once the completion was applied
    (until then the webhook is in flight); then the status and, when cut off, why."""

    settled: bool
    status: AccountStatus | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SubscriptionItem:
    """One price a subscription bills, since `created` (epoch seconds): a plan change adds the new
    plan's price as an item and keeps the old one until its period is invoiced."""

    price_id: str
    created: int


@dataclass(frozen=True)
class SubscriptionState:
    """One subscription as Stripe has it: what the reconciler compares an account row with, and
    what a plan change starts from. `period_start` and `period_end` are the current billing period's
    (epoch seconds)."""

    id: str
    customer_id: str
    status: str
    items: tuple[SubscriptionItem, ...] = ()
    period_start: int = 0
    cancel_at_period_end: bool = False
    created: int = 0  # epoch seconds
    period_end: int = 0

    def has_price(self, price_id: str) -> bool:
        return any(item.price_id == price_id for item in self.items)

    @property
    def current_price_id(self) -> str | None:
        """The price of the newest item (by creation; of equals, the later listed): the plan it is on now."""
        newest = max(enumerate(self.items), key=lambda indexed: (indexed[1].created, indexed[0]), default=None)
        return newest[1].price_id if newest else None


@dataclass(frozen=True)
class OpenInvoicePage:
    """One page of the Stripe account's open invoices, newest first (`has_more`: another page follows)."""

    invoices: tuple[OpenInvoice, ...]
    has_more: bool


@dataclass(frozen=True)
class SubscriptionPage:
    """One page of Stripe's subscription list, newest first; `has_more` says whether a page
    starting after the last of these follows."""

    subscriptions: tuple[SubscriptionState, ...]
    has_more: bool
