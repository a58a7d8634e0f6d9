"""Stripe: the API version, metadata names and the webhook's events.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- Stripe -------------------------------------------------------------------------------------
STRIPE_API_VERSION = "2026-10-28.endive"  # the version stripe==16.1.0 is generated for
STRIPE_CUSTOMER_METADATA_API_KEY_ID = "awsAPIKeyId"
# The customer portal configuration `make stripe-setup` creates carries this metadata; the account
# function finds it by it (tollgate.adapters.stripe_account_billing).
STRIPE_PORTAL_CONFIGURATION_METADATA = {"tollgate": "portal"}
# Events the webhook endpoint must be subscribed to (docs/deploying.md and `make stripe-setup` use this list).
STRIPE_WEBHOOK_EVENTS = (
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",  # a credit pack paid by a method with delayed notification
)
