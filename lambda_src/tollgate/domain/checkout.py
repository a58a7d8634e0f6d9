"""Adding a payment method: a Stripe Checkout session in setup mode, opened for the key's owner.

The browser proves who it is with the API key itself (id + value); the Stripe customer is taken
from the account row, never from the request, so nobody can open a session for someone else.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

from tollgate.domain.errors import ApiKeyRejected
from tollgate.domain.models import AccountStatus
from tollgate.ports import Accounts, ApiKeys, PaymentMethods

# Accounts that may add or replace a payment method: suspended ones too, so a customer whose
# card failed can fix it (Stripe then retries the invoice and `invoice.paid` re-enables the key).
BILLABLE_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.AWAITING_PAYMENT_METHOD, AccountStatus.SUSPENDED})
CHECKOUT_OUTCOME_PARAMETER = "checkout"  # the signup page reads ?checkout=success|cancel


class PaymentMethodCheckout:
    """Opens Stripe Checkout (setup mode) for the customer behind an API key."""

    def __init__(self, accounts: Accounts, keys: ApiKeys, payments: PaymentMethods, signup_url: str):
        self._accounts = accounts
        self._keys = keys
        self._payments = payments
        self._signup_url = signup_url

    def start(self, api_key_id: str, presented_key: str, request_id: str) -> str:
        """The Checkout URL to send the browser to. Raises ApiKeyRejected when the presented key
        is not the value of `api_key_id` or its account cannot be billed. `request_id` makes the
        Stripe call idempotent across the SDK's own retries of this one request."""
        account = self._accounts.find_by_api_key_id(api_key_id)
        if account is None or account.status not in BILLABLE_STATUSES or not account.customer_id:
            raise ApiKeyRejected("unknown key id or account not billable")
        if not hmac.compare_digest(self._keys.key_value(api_key_id).encode(), presented_key.encode()):
            raise ApiKeyRejected("presented key does not match the key id")
        return self._payments.create_setup_checkout(
            account.customer_id,
            success_url=self._return_url("success"),
            cancel_url=self._return_url("cancel"),
            idempotency_key=f"tollgate-checkout-{request_id}",
        )

    def _return_url(self, outcome: str) -> str:
        parts = urlsplit(self._signup_url)
        query = "&".join(filter(None, [parts.query, urlencode({CHECKOUT_OUTCOME_PARAMETER: outcome})]))
        return urlunsplit(parts._replace(query=query))
