"""AccountBilling on Stripe: the preview of a subscription's upcoming invoice (the amount so far
and the billing period) and customer portal sessions.

The portal configuration `make stripe-setup` creates (ops/catalog_setup.py: invoice history, payment
method update, cancel at the end of the period) is found once per process by its metadata
(contract.STRIPE_PORTAL_CONFIGURATION_METADATA), the way the meter is found from the price: no setting can
disagree with what Stripe holds. Without one, sessions use the Stripe account's default portal
settings, which exist once saved in the Stripe dashboard (else Stripe refuses: a 502 naming it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tollgate import contract
from tollgate.adapters.stripe_client import call_stripe
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.ports.billing import AccountBilling

if TYPE_CHECKING:
    import stripe

class StripeAccountBilling(AccountBilling):
    """Upcoming invoices and portal sessions through the client `stripe()` gives."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient]):
        self._stripe = stripe
        self._lock = threading.Lock()
        self._configuration: str | None = None

    def upcoming_invoice(self, subscription_id: str) -> UpcomingInvoice:
        """The usage line's period is the billing period (an invoice's own period is the one before)."""
        invoice = call_stripe("preview upcoming invoice", self._stripe().v1.invoices.create_preview,
                              {"subscription": subscription_id})
        lines = invoice.lines.data if invoice.lines else []
        period = lines[0].period if lines else None
        return UpcomingInvoice(invoice.amount_due, invoice.currency,
                               period.start if period else invoice.period_start,
                               period.end if period else invoice.period_end)

    def portal_url(self, customer_id: str, return_url: str) -> str:
        configuration = self._portal_configuration()
        session = call_stripe("open customer portal", self._stripe().v1.billing_portal.sessions.create,
                              {"customer": customer_id, "return_url": return_url,
                               **({"configuration": configuration} if configuration else {})})
        return session.url

    def _portal_configuration(self) -> str | None:
        """Kept once found; looked for again while there is none (`make stripe-setup` may come later)."""
        with self._lock:
            if self._configuration is None:
                listed = call_stripe("list portal configurations",
                                     self._stripe().v1.billing_portal.configurations.list,
                                     {"active": True, "limit": 100})
                self._configuration = next(
                    (configuration.id for configuration in listed.data
                     if (configuration.metadata.to_dict() if configuration.metadata else {})
                     == contract.STRIPE_PORTAL_CONFIGURATION_METADATA), None)
            return self._configuration
