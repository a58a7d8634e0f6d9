"""Payment methods on Stripe: Checkout in setup mode collects a card, and the collected card
becomes the customer's default for invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tollgate.adapters.stripe_client import call_stripe, downstream_error
from tollgate.domain.billing_state import CheckoutSession
from tollgate.domain.ports.billing import PaymentMethods

if TYPE_CHECKING:
    import stripe

# Marks the sessions Tollgate opens, so a session id from elsewhere in the Stripe account tells nothing.
SESSION_METADATA = {"tollgate": "payment-method"}


class StripePaymentMethods(PaymentMethods):
    """Setup-mode Checkout and default payment methods through the client `stripe()` gives."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient]):
        self._stripe = stripe

    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        v1 = self._stripe().v1
        setup_intent = call_stripe(
            "read setup intent", v1.setup_intents.retrieve, setup_intent_id, {"expand": ["payment_method"]}
        )
        collected = setup_intent.payment_method  # expanded: the object (an id alone would be a str)
        if collected is None or isinstance(collected, str):
            raise downstream_error("read setup intent", ValueError(f"{setup_intent_id} has no payment method"))
        customer = call_stripe(
            "read customer", v1.customers.retrieve, customer_id, {"expand": ["invoice_settings.default_payment_method"]}
        )
        current = customer.invoice_settings.default_payment_method if customer.invoice_settings else None
        if isinstance(current, str):  # (expanded above, so never: an id alone cannot say when it was created)
            raise downstream_error("read customer", ValueError(f"{customer_id}'s default payment method not expanded"))
        if current is not None and (current.id == collected.id or current.created > collected.created):
            return
        call_stripe(
            "set default payment method",
            v1.customers.update,
            customer_id,
            {"invoice_settings": {"default_payment_method": collected.id}},
        )

    def create_setup_checkout(self, customer_id: str, success_url: str, cancel_url: str, idempotency_key: str) -> str:
        session = call_stripe(
            "create Checkout session",
            self._stripe().v1.checkout.sessions.create,
            {
                "mode": "setup",
                "customer": customer_id,
                "allowed_payment_method_types": ["card"],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": SESSION_METADATA,
            },
            {"idempotency_key": idempotency_key},
        )
        if session.url is None:  # Stripe leaves it out only for sessions no longer active, or not hosted
            raise downstream_error("create Checkout session", ValueError(f"{session.id} has no url"))
        return session.url

    def checkout_session(self, session_id: str) -> CheckoutSession | None:
        session = call_stripe(
            "read Checkout session", self._stripe().v1.checkout.sessions.retrieve, session_id, gone_ok=True
        )
        metadata = session.metadata.to_dict() if session is not None and session.metadata else {}
        if session is None or session.mode != "setup" or not session.customer or metadata != SESSION_METADATA:
            return None
        customer = session.customer if isinstance(session.customer, str) else session.customer.id
        return CheckoutSession(session.id, customer, session.created, complete=session.status == "complete")
