"""Billing on Stripe: the customer and the metered subscription a sign-up creates, the
subscription's current status the billing lifecycle acts on, the listing the reconciler pages
through, and settling its open invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tollgate import contract
from tollgate.adapters.stripe_client import call_stripe, downstream_error
from tollgate.domain.models import InvoicePayment, Registrant, SubscriptionPage, SubscriptionState
from tollgate.ports import Billing

if TYPE_CHECKING:
    import stripe


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
        call_stripe("cancel subscription", self._stripe().v1.subscriptions.cancel, subscription_id, gone_ok=True)

    def subscription_status(self, subscription_id: str) -> str:
        return call_stripe("read subscription", self._stripe().v1.subscriptions.retrieve, subscription_id).status

    def list_subscriptions(self, starting_after: str | None, limit: int) -> SubscriptionPage:
        params = {"status": "all", "limit": limit, **({"starting_after": starting_after} if starting_after else {})}
        listed = call_stripe("list subscriptions", self._stripe().v1.subscriptions.list, params)
        return SubscriptionPage(
            tuple(SubscriptionState(s.id, s.customer if isinstance(s.customer, str) else s.customer.id, s.status)
                  for s in listed.data),
            has_more=bool(listed.has_more),
        )

    def pay_open_invoices(self, subscription_id: str, idempotency_key: str) -> InvoicePayment:
        import stripe

        v1 = self._stripe().v1
        listed = call_stripe("list open invoices", v1.invoices.list,
                             {"subscription": subscription_id, "status": "open", "limit": 100})
        paid = 0
        for invoice in sorted(listed.data, key=lambda open_invoice: open_invoice.created):
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
