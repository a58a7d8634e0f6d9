"""Stripe for the billing lifecycle: webhook signature checks, Checkout in setup mode, default
payment methods and the current subscription status.

Webhook events are reduced here to a domain BillingEvent, so the lifecycle service never sees a
Stripe object. Events are parsed from the raw JSON, not from SDK objects, so an event rendered
in an older API version (Stripe sends every event in the endpoint's pinned version) still reads.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tollgate.adapters.stripe_client import downstream_error
from tollgate.domain.errors import InvalidWebhookSignature
from tollgate.domain.models import BillingEvent
from tollgate.ports import PaymentSetup

if TYPE_CHECKING:
    import stripe

WEBHOOK_TOLERANCE_SECONDS = 300  # Stripe's default: a captured delivery cannot be replayed later


def verify_webhook_event(
    payload: str | bytes, signature: str | None, signing_secret: str, tolerance: int = WEBHOOK_TOLERANCE_SECONDS
) -> BillingEvent:
    """The event in `payload` if `signature` (the Stripe-Signature header) proves Stripe sent it
    within `tolerance` seconds; InvalidWebhookSignature otherwise."""
    import stripe

    try:
        stripe.WebhookSignature.verify_header(payload, signature, signing_secret, tolerance)
        document = json.loads(payload)
        return billing_event(document)
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhookSignature(str(error).split(";")[0]) from None
    except (ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
        raise InvalidWebhookSignature("the signed payload is not a Stripe event") from None


def billing_event(document: dict[str, Any]) -> BillingEvent:
    """The fields the lifecycle uses, from an event's JSON (`data.object` is a subscription, an
    invoice or a Checkout session for the types Tollgate handles)."""
    obj = document["data"]["object"]
    kind = obj.get("object")
    subscription_id = None
    if kind == "subscription":
        subscription_id = obj.get("id")
    elif kind == "invoice":
        # Since API 2025-03-31 the subscription lives under parent.subscription_details.
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        subscription_id = _id(details.get("subscription")) or _id(obj.get("subscription"))
    is_checkout = kind == "checkout.session"
    return BillingEvent(
        id=str(document["id"]),
        type=str(document["type"]),
        created=int(document["created"]),
        customer_id=_id(obj.get("customer")),
        subscription_id=subscription_id,
        checkout_mode=obj.get("mode") if is_checkout else None,
        setup_intent_id=_id(obj.get("setup_intent")) if is_checkout else None,
    )


def _id(value: Any) -> str | None:
    """An id whether the field holds it or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


class StripePaymentSetup(PaymentSetup):
    """Payment methods, setup-mode Checkout and subscription status through a client from
    stripe_client.stripe_client (pinned API version, timeout, bounded retries)."""

    def __init__(self, client: stripe.StripeClient):
        self._stripe = client.v1

    def subscription_status(self, subscription_id: str) -> str:
        return self._call("read subscription", self._stripe.subscriptions.retrieve, subscription_id).status

    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        expand = {"expand": ["payment_method"]}
        setup_intent = self._call("read setup intent", self._stripe.setup_intents.retrieve, setup_intent_id, expand)
        collected = setup_intent.payment_method
        if collected is None:
            raise downstream_error("read setup intent", ValueError(f"{setup_intent_id} has no payment method"))
        customer = self._call(
            "read customer",
            self._stripe.customers.retrieve,
            customer_id,
            {"expand": ["invoice_settings.default_payment_method"]},
        )
        current = customer.invoice_settings.default_payment_method if customer.invoice_settings else None
        if current is not None and (current.id == collected.id or current.created > collected.created):
            return
        self._call(
            "set default payment method",
            self._stripe.customers.update,
            customer_id,
            {"invoice_settings": {"default_payment_method": collected.id}},
        )

    def create_setup_checkout(self, customer_id: str, success_url: str, cancel_url: str, idempotency_key: str) -> str:
        session = self._call(
            "create Checkout session",
            self._stripe.checkout.sessions.create,
            {
                "mode": "setup",
                "customer": customer_id,
                "allowed_payment_method_types": ["card"],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": {"tollgate": "payment-method"},
            },
            {"idempotency_key": idempotency_key},
        )
        return session.url

    @staticmethod
    def _call(action: str, operation: Any, *arguments: Any) -> Any:
        import stripe

        try:
            return operation(*arguments)
        except stripe.StripeError as error:
            raise downstream_error(action, error) from None
