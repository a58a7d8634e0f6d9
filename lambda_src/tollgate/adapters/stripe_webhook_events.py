"""Stripe webhook deliveries: the signature check on the raw body, and the event reduced to a
domain BillingEvent so the lifecycle service never sees a Stripe object.

Events are parsed from the raw JSON, not from SDK objects, so an event rendered in an older API
version (Stripe sends every event in the endpoint's pinned version) still reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tollgate.adapters.stripe_credit_sales import credit_pack_payment
from tollgate.domain.billing_state import BillingEvent
from tollgate.domain.errors import InvalidWebhookSignature

WEBHOOK_TOLERANCE_SECONDS = 300  # Stripe's default: a captured delivery cannot be replayed later


class StripeWebhookEvents:
    """Verifies deliveries against the endpoint's signing secret (`signing_secret()`, read from
    the cached secret on each delivery so a rolled secret is picked up without a deploy)."""

    def __init__(self, signing_secret: Callable[[], str], tolerance: int = WEBHOOK_TOLERANCE_SECONDS):
        self._signing_secret = signing_secret
        self._tolerance = tolerance

    def verify(self, payload: str | bytes, signature: str | None) -> BillingEvent:
        """The event in `payload` if `signature` (the Stripe-Signature header) proves Stripe sent it
        within the tolerance; InvalidWebhookSignature, with the reason, otherwise."""
        import stripe

        try:
            stripe.WebhookSignature.verify_header(payload, signature, self._signing_secret(), self._tolerance)
            return billing_event(json.loads(payload))
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhookSignature(str(error).split(";")[0]) from None
        except (ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
            raise InvalidWebhookSignature("the signed payload is not a Stripe event") from None


def billing_event(document: dict[str, Any]) -> BillingEvent:
    """The fields the lifecycle and the credit purchases use, from an event's JSON (`data.object` is a
    subscription, an invoice or a Checkout session for the types Tollgate handles)."""
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
    failure_reason = _payment_failure(obj) if document["type"] == "invoice.payment_failed" else None
    return BillingEvent(
        id=str(document["id"]),
        type=str(document["type"]),
        created=int(document["created"]),
        customer_id=_id(obj.get("customer")),
        subscription_id=subscription_id,
        checkout_mode=obj.get("mode") if is_checkout else None,
        setup_intent_id=_id(obj.get("setup_intent")) if is_checkout else None,
        checkout_session_id=_id(obj.get("id")) if is_checkout else None,
        failure_reason=failure_reason,
        credit_pack=credit_pack_payment(obj) if is_checkout else None,
    )


def _payment_failure(invoice: dict[str, Any]) -> str:
    """Why an account is cut off, in words a customer and an operator can act on."""
    amount = invoice.get("amount_due")
    currency = str(invoice.get("currency") or "").upper()
    what = f"invoice {invoice.get('number') or invoice.get('id')}"
    if isinstance(amount, int) and currency:
        what += f" ({amount / 100:.2f} {currency})"
    attempts = invoice.get("attempt_count") or 1
    if invoice.get("next_payment_attempt"):
        then = "Stripe will try again."
    else:
        then = "Stripe will not retry it: add or update the payment method."
    return f"Payment of {what} failed (attempt {attempts}). {then}"


def _id(value: Any) -> str | None:
    """An id whether the field holds it or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
