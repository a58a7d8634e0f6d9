"""Billing on Stripe: the customer and the metered subscription a sign-up creates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate import contract
from tollgate.adapters.stripe_client import downstream_error
from tollgate.domain.models import Registrant
from tollgate.ports import Billing

if TYPE_CHECKING:
    import stripe


class StripeBilling(Billing):
    """Customers and subscriptions through a client from stripe_client.stripe_client."""

    def __init__(self, client: stripe.StripeClient, price_id: str):
        self._client = client
        self._price_id = price_id

    def create_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str) -> str:
        customer = self._call(
            "create customer",
            self._client.v1.customers.create,
            {
                "email": registrant.email,
                "name": f"{registrant.first_name} {registrant.last_name}",
                "metadata": {contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID: api_key_id},
            },
            {"idempotency_key": idempotency_key},
        )
        return customer.id

    def delete_customer(self, customer_id: str) -> None:
        self._call("delete customer", self._client.v1.customers.delete, customer_id, gone_ok=True)

    def subscribe(self, customer_id: str, idempotency_key: str) -> str:
        subscription = self._call(
            "create subscription",
            self._client.v1.subscriptions.create,
            {"customer": customer_id, "items": [{"price": self._price_id}]},
            {"idempotency_key": idempotency_key},
        )
        return subscription.id

    def cancel_subscription(self, subscription_id: str) -> None:
        self._call("cancel subscription", self._client.v1.subscriptions.cancel, subscription_id, gone_ok=True)

    @staticmethod
    def _call(action: str, operation: Any, *arguments: Any, gone_ok: bool = False) -> Any:
        import stripe

        try:
            return operation(*arguments)
        except stripe.InvalidRequestError as error:
            # Stripe answers 404 for a deleted customer and for a subscription already canceled.
            if gone_ok and (error.http_status == 404 or error.code == "resource_missing"):
                return None
            raise downstream_error(action, error) from None
        except stripe.StripeError as error:
            raise downstream_error(action, error) from None

