"""Stripe: customers, subscriptions, invoices, Checkout and the customer portal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.billing_state import (
        CheckoutSession,
        CreditPackOrder,
        InvoicePayment,
        OpenInvoice,
        OpenInvoicePage,
        SubscriptionPage,
        SubscriptionState,
        UpcomingInvoice,
    )
    from tollgate.domain.models import Registrant


class Billing(ABC):
    """Stripe customers and subscriptions.

    A create repeated with the same idempotency key and arguments (within 24 h) returns the
    object the first call created instead of a new one, even when the first call's answer was
    lost: that is how a rollback learns the id of a create that timed out."""

    @abstractmethod
    def create_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str) -> str:
        """Create the customer (metadata awsAPIKeyId) and return its id (cus_...)."""

    @abstractmethod
    def find_customers_for_key(self, api_key_id: str) -> list[str]:
        """The customers created for a sign-up's API key (their metadata names it). Stripe's search
        can lag up to a minute behind a create: an empty answer right after one proves nothing."""

    @abstractmethod
    def delete_customer(self, customer_id: str) -> None:
        """Delete the customer, which also cancels its subscriptions; an already deleted
        customer is not an error."""

    @abstractmethod
    def subscribe(self, customer_id: str, price_id: str, idempotency_key: str) -> str:
        """Subscribe the customer to a plan's metered price; return the id (sub_...)."""

    @abstractmethod
    def subscription(self, subscription_id: str) -> SubscriptionState:
        """The subscription as Stripe has it now: status, items (price and creation time), the current
        period's start, and whether it ends at the period's end."""

    @abstractmethod
    def switch_price(self, subscription_id: str, price_id: str, idempotency_key: str) -> None:
        """Bill the subscription at `price_id` from now on: add it as a new item (proration_behavior
        none) unless an item has it already, and keep every other item until the period ends, so what
        their meters recorded before now is billed on this period's invoice. Also unsets
        cancel_at_period_end. Raises ConfigurationError when the price's meter is the meter of another
        item's price (both items would bill the same usage)."""

    @abstractmethod
    def drop_prices_except(self, subscription_id: str, price_id: str) -> tuple[str, ...]:
        """Remove every item whose price is not `price_id` (proration_behavior none); return the prices
        removed. Called once the period in which the plan changed has been invoiced."""

    @abstractmethod
    def end_at_period_end(self, subscription_id: str) -> None:
        """cancel_at_period_end=true: the subscription ends (customer.subscription.deleted) when its
        period ends (a change to a free plan)."""

    @abstractmethod
    def cancel_subscription(self, subscription_id: str) -> None:
        """Cancel immediately, without a final invoice for its metered usage (invoice_now and prorate
        false): what its meters counted is billed by the subscription the account records. An already
        cancelled subscription is not an error."""

    @abstractmethod
    def live_subscriptions(self, customer_id: str) -> tuple[SubscriptionState, ...]:
        """The customer's subscriptions that are not canceled (or incomplete_expired), newest first."""

    @abstractmethod
    def subscription_status(self, subscription_id: str) -> str:
        """The subscription's status as Stripe has it now (active, past_due, canceled, ...)."""

    @abstractmethod
    def list_subscriptions(self, starting_after: str | None, limit: int) -> SubscriptionPage:
        """Every subscription of the Stripe account, whatever its status (canceled ones included),
        newest first: up to `limit` of them after the subscription `starting_after` (None: from
        the newest). One Stripe API call."""

    @abstractmethod
    def open_invoices(self, customer_id: str) -> tuple[OpenInvoice, ...]:
        """The customer's invoices that are open (unpaid, not void) AND that Stripe has tried to collect
        at least once (`attempted`), of any subscription, current or ended, oldest first."""

    @abstractmethod
    def list_open_invoices(self, starting_after: str | None, limit: int) -> OpenInvoicePage:
        """Every open invoice of the Stripe account that Stripe has tried to collect, newest first: up to
        `limit` after the invoice `starting_after` (None: from the newest). One Stripe API call."""

    @abstractmethod
    def pay_open_invoices(self, customer_id: str, idempotency_key: str) -> InvoicePayment:
        """Pay every open invoice of the customer, oldest first, with its default payment
        method. Stripe does not retry an invoice by itself when no payment method was available,
        nor once its retries are exhausted. Stops at the first decline (InvoicePayment.declined).
        An invoice paid meanwhile is not an error; `idempotency_key` makes a retry charge nothing twice."""


class PaymentMethods(ABC):
    """A customer's payment method: collected by Stripe Checkout in setup mode, then made the
    default for the subscription's invoices."""

    @abstractmethod
    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        """Make the payment method a completed setup intent collected the customer's default for
        invoices, unless the current default is a newer one (a late delivery of an earlier
        Checkout must not bring an old card back). Setting the same method again is not an error."""

    @abstractmethod
    def create_setup_checkout(self, customer_id: str, success_url: str, cancel_url: str, idempotency_key: str) -> str:
        """Open a Checkout session in setup mode for the customer; return its URL."""

    @abstractmethod
    def checkout_session(self, session_id: str) -> CheckoutSession | None:
        """A payment-method session `create_setup_checkout` opened; None for any other or unknown id."""


class CreditSales(ABC):
    """Credit packs of prepaid plans, sold through Stripe Checkout in payment mode: Stripe takes the
    payment once, and the completed session's webhook adds the credit (tollgate.domain.credit_purchases)."""

    @abstractmethod
    def create_credit_checkout(
        self, order: CreditPackOrder, success_url: str, cancel_url: str, idempotency_key: str
    ) -> str:
        """Open a Checkout session in payment mode charging the order's price to its customer, the
        order written on the session (its webhook reads it back); return the session's URL. The same
        `idempotency_key` again gives the same session."""


class AccountBilling(ABC):
    """What the account page shows and opens of Stripe: the upcoming invoice and the customer portal."""

    @abstractmethod
    def upcoming_invoice(self, subscription_id: str) -> UpcomingInvoice:
        """Stripe's preview of the subscription's next invoice (its usage so far this period)."""

    @abstractmethod
    def portal_url(self, customer_id: str, return_url: str) -> str:
        """A Stripe customer portal session for the customer (invoices, payment methods, cancel), on
        Tollgate's portal configuration only: BillingPortalNotSetUp without it."""
