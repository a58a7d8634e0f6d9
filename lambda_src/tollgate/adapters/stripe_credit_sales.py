"""Credit packs on Stripe: a Checkout session in payment mode with one line item priced inline
(`price_data`: the pack's price needs no Stripe product or price set up beforehand), and the order written
in the session's metadata, which its webhook events carry back
(https://docs.stripe.com/api/checkout/sessions/create, https://docs.stripe.com/metadata).

No payment method types are named, so Stripe offers the ones the account enables (dynamic payment
methods); one with delayed notification completes `unpaid` and is added once
`checkout.session.async_payment_succeeded` says it is paid (tollgate.domain.credit_purchases).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tollgate.adapters.stripe_client import call_stripe, downstream_error
from tollgate.domain.billing_state import CreditPackOrder, CreditPackPayment
from tollgate.domain.ports.billing import CreditSales
from tollgate.plans import MICROS

if TYPE_CHECKING:
    import stripe

# The metadata of the sessions Tollgate opens to sell credit (Stripe keeps metadata values as strings).
SESSION_KIND = ("tollgate", "credit-pack")
ACCOUNT, PLAN, PACK, CREDIT = "tollgate_account", "tollgate_plan", "tollgate_pack", "tollgate_credit"


class StripeCreditSales(CreditSales):
    """Payment-mode Checkout through the client `stripe()` gives."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient]):
        self._stripe = stripe

    def create_credit_checkout(
        self, order: CreditPackOrder, success_url: str, cancel_url: str, idempotency_key: str
    ) -> str:
        credit = f"{order.credit / MICROS:.2f} {order.currency.upper()}"
        session = call_stripe(
            "create Checkout session",
            self._stripe().v1.checkout.sessions.create,
            {
                "mode": "payment",
                "customer": order.customer_id,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": order.currency,
                            "unit_amount": order.price,
                            "product_data": {"name": f"API credit: {credit} (pack {order.pack_id})"},
                        },
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": {
                    SESSION_KIND[0]: SESSION_KIND[1],
                    ACCOUNT: order.account_id,
                    PLAN: order.plan_id,
                    PACK: order.pack_id,
                    CREDIT: str(order.credit),
                },
            },
            {"idempotency_key": idempotency_key},
        )
        if session.url is None:  # Stripe leaves it out only for sessions no longer active, or not hosted
            raise downstream_error("create Checkout session", ValueError(f"{session.id} has no url"))
        return session.url


def credit_pack_payment(session: dict[str, Any]) -> CreditPackPayment | None:
    """The credit pack a Checkout session (an event's `data.object`) sold, or None for a session Tollgate
    did not open to sell credit."""
    metadata = session.get("metadata") or {}
    if session.get("mode") != "payment" or metadata.get(SESSION_KIND[0]) != SESSION_KIND[1]:
        return None
    customer = session.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    order = CreditPackOrder(
        str(metadata[ACCOUNT]),
        str(customer_id or ""),
        str(metadata[PLAN]),
        str(metadata[PACK]),
        int(metadata[CREDIT]),
        int(session.get("amount_total") or 0),
        str(session.get("currency") or ""),
    )
    return CreditPackPayment(str(session["id"]), order, paid=session.get("payment_status") == "paid")
