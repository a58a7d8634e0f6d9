"""Billing on Stripe: the customer and the metered subscription a sign-up creates, the
subscription's current status the billing lifecycle acts on, the listing the reconciler pages
through, settling its open invoices, and the items a plan change adds and removes.

A plan change never replaces an item's price: with billing_mode=classic "on future invoices, we
reflect only usage that occurs after the update ... Usage from January 1 to January 16 isn't
billed", and an item added mid-cycle bills its meter's usage from then on ("Update prices
mid-cycle", https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup). So the
new plan's price is added as an item, the old items stay until their period has been invoiced,
and each plan's price has its own meter (docs/plans.md). Items are changed with one
subscription update (`items[]`, https://docs.stripe.com/api/subscriptions/update); since API
2025-03-31 the billing period is on the items
(https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tollgate import contract
from tollgate.adapters.stripe_client import call_stripe, downstream_error
from tollgate.domain.billing_state import (
    InvoicePayment,
    OpenInvoice,
    OpenInvoicePage,
    SubscriptionItem,
    SubscriptionPage,
    SubscriptionState,
)
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.models import Registrant
from tollgate.domain.ports.billing import Billing

if TYPE_CHECKING:
    import stripe

_ENDED = frozenset({"canceled", "incomplete_expired"})


class StripeBilling(Billing):
    """Customers and subscriptions through the client `stripe()` gives (stripe_client.StripeClientForSecret)."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient]):
        self._stripe = stripe

    def create_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str) -> str:
        customer = call_stripe(
            "create customer",
            self._stripe().v1.customers.create,
            {
                "email": registrant.email,
                "name": f"{registrant.first_name} {registrant.last_name}",
                "metadata": {contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID: api_key_id},
            },
            {"idempotency_key": idempotency_key},
        )
        return customer.id

    def find_customers_for_key(self, api_key_id: str) -> list[str]:
        # Key ids are short alphanumerics (API Gateway's), so they need no escaping in the query.
        query = f"metadata['{contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID}']:'{api_key_id}'"
        found = call_stripe("search customers", self._stripe().v1.customers.search, {"query": query, "limit": 10})
        return [customer.id for customer in found.data]

    def delete_customer(self, customer_id: str) -> None:
        call_stripe("delete customer", self._stripe().v1.customers.delete, customer_id, gone_ok=True)

    def subscribe(self, customer_id: str, price_id: str, idempotency_key: str) -> str:
        subscription = call_stripe(
            "create subscription",
            self._stripe().v1.subscriptions.create,
            {"customer": customer_id, "items": [{"price": price_id}]},
            {"idempotency_key": idempotency_key},
        )
        return subscription.id

    def cancel_subscription(self, subscription_id: str) -> None:
        # "pending prorations are removed if invoice_now and prorate are both set to false", and no
        # final invoice is made for the metered usage (https://docs.stripe.com/api/subscriptions/cancel).
        call_stripe(
            "cancel subscription",
            self._stripe().v1.subscriptions.cancel,
            subscription_id,
            {"invoice_now": False, "prorate": False},
            gone_ok=True,
        )

    def live_subscriptions(self, customer_id: str) -> tuple[SubscriptionState, ...]:
        listed = call_stripe(
            "list subscriptions",
            self._stripe().v1.subscriptions.list,
            {"customer": customer_id, "status": "all", "limit": 100},
        )
        return tuple(_state(s) for s in listed.data if s.status not in _ENDED)

    def subscription_status(self, subscription_id: str) -> str:
        return self._retrieve(subscription_id).status

    def subscription(self, subscription_id: str) -> SubscriptionState:
        return _state(self._retrieve(subscription_id))

    def switch_price(self, subscription_id: str, price_id: str, idempotency_key: str) -> None:
        subscription = self._retrieve(subscription_id)
        items = subscription["items"].data
        if any(item.price.id == price_id for item in items):
            if subscription.cancel_at_period_end:  # a change back before the period ends
                self._update(subscription_id, {"cancel_at_period_end": False})
            return
        meter = _meter(call_stripe("read price", self._stripe().v1.prices.retrieve, price_id))
        sharing = [item.price.id for item in items if meter is not None and _meter(item.price) == meter]
        if sharing:
            raise ConfigurationError(
                f"Prices {price_id} and {sharing[0]} are billed through the same Stripe meter {meter}, so "
                f"subscription {subscription_id} would bill its usage twice: give each paid plan's price its own "
                "meter (make stripe-setup with a --meter-event-name of its own)."
            )
        self._update(
            subscription_id,
            {"items": [{"price": price_id}], "proration_behavior": "none", "cancel_at_period_end": False},
            idempotency_key,
        )

    def drop_prices_except(self, subscription_id: str, price_id: str) -> tuple[str, ...]:
        items = self._retrieve(subscription_id)["items"].data
        dropped = [item for item in items if item.price.id != price_id]
        if dropped:
            self._update(
                subscription_id,
                {"items": [{"id": item.id, "deleted": True} for item in dropped], "proration_behavior": "none"},
            )
        return tuple(item.price.id for item in dropped)

    def end_at_period_end(self, subscription_id: str) -> None:
        self._update(subscription_id, {"cancel_at_period_end": True})

    def list_subscriptions(self, starting_after: str | None, limit: int) -> SubscriptionPage:
        params = {"status": "all", "limit": limit, **({"starting_after": starting_after} if starting_after else {})}
        listed = call_stripe("list subscriptions", self._stripe().v1.subscriptions.list, params)
        return SubscriptionPage(tuple(_state(s) for s in listed.data), has_more=bool(listed.has_more))

    def _retrieve(self, subscription_id: str) -> stripe.Subscription:
        return call_stripe("read subscription", self._stripe().v1.subscriptions.retrieve, subscription_id)

    def _update(self, subscription_id: str, params: dict[str, Any], idempotency_key: str | None = None) -> None:
        """Without a key the SDK makes one for its retries; these updates are idempotent by themselves."""
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        call_stripe("update subscription", self._stripe().v1.subscriptions.update, subscription_id, params, options)

    def open_invoices(self, customer_id: str) -> tuple[OpenInvoice, ...]:
        listed = call_stripe(
            "list open invoices",
            self._stripe().v1.invoices.list,
            {"customer": customer_id, "status": "open", "limit": 100},
        )
        return tuple(_open_invoice(invoice) for invoice in _oldest_first(listed.data) if invoice.attempted)

    def list_open_invoices(self, starting_after: str | None, limit: int) -> OpenInvoicePage:
        params = {"status": "open", "limit": limit, **({"starting_after": starting_after} if starting_after else {})}
        listed = call_stripe("list open invoices", self._stripe().v1.invoices.list, params)
        return OpenInvoicePage(
            tuple(_open_invoice(invoice) for invoice in listed.data if invoice.attempted),
            has_more=bool(listed.has_more),
        )

    def pay_open_invoices(self, customer_id: str, idempotency_key: str) -> InvoicePayment:
        import stripe

        v1 = self._stripe().v1
        listed = call_stripe(
            "list open invoices", v1.invoices.list, {"customer": customer_id, "status": "open", "limit": 100}
        )
        paid = 0
        for invoice in _oldest_first(listed.data):
            try:
                v1.invoices.pay(invoice.id, {}, {"idempotency_key": f"{idempotency_key}-{invoice.id}"})
            except stripe.CardError as error:
                return InvoicePayment(paid, declined=error.user_message or "the card was declined")
            except stripe.InvalidRequestError as error:
                # Paid (or voided) since it was listed, by a concurrent settlement: nothing is owed.
                if call_stripe("read invoice", v1.invoices.retrieve, invoice.id).status == "open":
                    raise downstream_error("pay invoice", error) from None
                continue
            except stripe.StripeError as error:
                raise downstream_error("pay invoice", error) from None
            paid += 1
        return InvoicePayment(paid)


def _state(subscription: stripe.Subscription) -> SubscriptionState:
    """The subscription's items in Stripe's order; every item shares the billing period (classic mode)."""
    items = subscription["items"].data
    return SubscriptionState(
        subscription.id,
        _id(subscription.customer),
        subscription.status,
        items=tuple(SubscriptionItem(item.price.id, item.created) for item in items),
        period_start=min((item.current_period_start for item in items), default=0),
        cancel_at_period_end=bool(subscription.cancel_at_period_end),
        created=subscription.created,
        period_end=max((item.current_period_end for item in items), default=0),
    )


def _oldest_first(listed: list[stripe.Invoice]) -> list[stripe.Invoice]:
    """A Stripe list (newest first, https://docs.stripe.com/api/pagination) oldest first: `created` is in
    seconds, so invoices of the same second keep the list's order, reversed."""
    return sorted(reversed(listed), key=lambda invoice: invoice.created)


def _open_invoice(invoice: stripe.Invoice) -> OpenInvoice:
    """Since API 2025-03-31 an invoice names its subscription under `parent.subscription_details`
    (https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects)."""
    parent = getattr(invoice, "parent", None)
    details = getattr(parent, "subscription_details", None) if parent else None
    subscription = getattr(details, "subscription", None) if details else None
    return OpenInvoice(
        invoice.id,
        _id(invoice.customer),
        _id(subscription) if subscription else None,
        invoice.amount_due,
        invoice.currency,
        invoice.created,
    )


def _id(value: Any) -> str:
    """An expandable field: the id, or the expanded object's."""
    return value if isinstance(value, str) else value.id


def _meter(price: stripe.Price) -> str | None:
    return price.recurring.meter if price.recurring else None
