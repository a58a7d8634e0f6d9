"""AccountBilling on Stripe: the preview of a subscription's upcoming invoice (the amount so far
and the billing period) and customer portal sessions.

A portal session is opened on the configuration `make stripe-setup` creates (ops/catalog_setup.py:
invoice history, payment method update, cancel at the end of the period, no plan change), found by
its metadata (contract.STRIPE_PORTAL_CONFIGURATION_METADATA), the way the meter is found from the
price: no setting can disagree with what Stripe holds. It is looked up on every request (one list
call; "Manage billing" is a rare click), so a configuration deactivated or changed since is never
used from a cache, and one `make stripe-setup` creates later is used at once.

Never any other configuration: a session created without `configuration` uses the Stripe account's
default one ("If not specified, the session uses the default configuration",
https://docs.stripe.com/api/customer_portal/sessions/create), whose features the owner sets in the
dashboard, and which may let customers update their subscription's price
(`features.subscription_update`, https://docs.stripe.com/api/customer_portal/configurations/object).
A replaced price loses the usage metered on the old one (tollgate.domain.plan_changes). So without
an active Tollgate configuration that keeps `subscription_update` off, `portal_url` raises
BillingPortalNotSetUp and opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tollgate import contract
from tollgate.adapters.stripe_client import call_stripe
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.errors import BillingPortalNotSetUp
from tollgate.domain.ports.billing import AccountBilling

if TYPE_CHECKING:
    import stripe


class StripeAccountBilling(AccountBilling):
    """Upcoming invoices and portal sessions through the client `stripe()` gives."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient]):
        self._stripe = stripe

    def upcoming_invoice(self, subscription_id: str) -> UpcomingInvoice:
        """The usage line's period is the billing period (an invoice's own period is the one before)."""
        invoice = call_stripe(
            "preview upcoming invoice", self._stripe().v1.invoices.create_preview, {"subscription": subscription_id}
        )
        lines = invoice.lines.data if invoice.lines else []
        period = lines[0].period if lines else None
        return UpcomingInvoice(
            invoice.amount_due,
            invoice.currency,
            period.start if period else invoice.period_start,
            period.end if period else invoice.period_end,
        )

    def portal_url(self, customer_id: str, return_url: str) -> str:
        configuration = self._portal_configuration()
        session = call_stripe(
            "open customer portal",
            self._stripe().v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url, "configuration": configuration},
        )
        return session.url

    def _portal_configuration(self) -> str:
        """The id of Tollgate's active configuration; BillingPortalNotSetUp, saying why, without one
        or when it lets customers change their plan."""
        listed = call_stripe(
            "list portal configurations",
            self._stripe().v1.billing_portal.configurations.list,
            {"active": True, "limit": 100},
        )
        tollgates = [
            configuration
            for configuration in listed.data
            if _plain(configuration.metadata) == contract.STRIPE_PORTAL_CONFIGURATION_METADATA
        ]
        if not tollgates:
            raise BillingPortalNotSetUp(
                f"no active customer portal configuration with the metadata "
                f"{contract.STRIPE_PORTAL_CONFIGURATION_METADATA} (`make stripe-setup` creates it)"
            )
        safe = [
            configuration
            for configuration in tollgates
            if not _plain(configuration.features).get("subscription_update", {}).get("enabled")
        ]
        if not safe:
            raise BillingPortalNotSetUp(
                f"the customer portal configuration {tollgates[0].id} lets customers change their plan "
                "(subscription_update is enabled; `make stripe-setup` turns it off)"
            )
        return safe[0].id


def _plain(value: Any) -> dict[str, Any]:
    """A StripeObject (or None) as a plain dict."""
    return value.to_dict() if value is not None else {}
