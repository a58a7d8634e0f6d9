"""Adding a payment method: a Stripe Checkout session in setup mode, opened for the key's owner,
and what became of the account once the customer is back from it.

The browser proves who it is with the key itself (its id + the key): the key is found by its hash
in the keys table (tollgate.domain.key_items), and the Stripe customer is taken from the account row,
never from the request, so nobody can open a session for someone else.

Back from Checkout, the signup page no longer holds the key. Stripe puts the session id in the
return URL (`{CHECKOUT_SESSION_ID}`, https://docs.stripe.com/payments/checkout/custom-success-page),
and the page asks what became of that session's account: only its status and, when its key is cut
off, the reason (a declined card, say) - never a key or an id. Until the webhook has applied the
completion, the answer is "not settled" and the page asks again shortly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.billing_state import CheckoutOutcome
from tollgate.domain.errors import ApiKeyRejected, UnknownCheckoutSession
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import PaymentMethods
from tollgate.domain.ports.keys import KeyItems

# Accounts that may add or replace a payment method: suspended ones too, so a customer cut off for
# an unpaid invoice can fix it (the webhook then pays the open invoices with the new card).
BILLABLE_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.AWAITING_PAYMENT_METHOD, AccountStatus.SUSPENDED})
CHECKOUT_OUTCOME_PARAMETER = "checkout"  # the signup page reads ?checkout=success|cancel
CHECKOUT_SESSION_PARAMETER = "session_id"  # ... and, on success, ?session_id=cs_...
STRIPE_SESSION_ID_TEMPLATE = "{CHECKOUT_SESSION_ID}"  # Stripe writes the session id there
# A page comes back from Checkout within minutes; an old link in a browser history reveals nothing.
OUTCOME_WINDOW_SECONDS = 24 * 3600


class PaymentMethodCheckout:
    """Opens Stripe Checkout (setup mode) for the customer behind an API key, and tells the page
    coming back from it what became of the account."""

    def __init__(
        self,
        accounts: Accounts,
        key_items: KeyItems,
        payments: PaymentMethods,
        signup_url: str,
        clock: Callable[[], float] = time.time,
    ):
        self._accounts = accounts
        self._key_items = key_items
        self._payments = payments
        self._signup_url = signup_url
        self._clock = clock

    def start(self, key_id: str, presented_key: str, request_id: str) -> str:
        """The Checkout URL to send the browser to. Raises ApiKeyRejected when the presented key is
        unknown, is not the key `key_id`, has ended, or its account cannot be billed. `request_id`
        makes the Stripe call idempotent across the SDK's own retries of this one request."""
        item = self._key_items.get(key_hash(presented_key))
        if item is None or item.key_id != key_id:
            raise ApiKeyRejected("presented key unknown or not the key id")
        account = self._accounts.get(item.account)
        record = account.key(key_id) if account else None
        if account is None or record is None or not record.callable_at(self._clock()):
            raise ApiKeyRejected("the key has ended")
        if account.status not in BILLABLE_STATUSES or not account.customer_id:
            raise ApiKeyRejected("account not billable")
        return self._payments.create_setup_checkout(
            account.customer_id,
            success_url=self._return_url("success", {CHECKOUT_SESSION_PARAMETER: STRIPE_SESSION_ID_TEMPLATE}),
            cancel_url=self._return_url("cancel"),
            idempotency_key=f"tollgate-checkout-{request_id}",
        )

    def start_for_account(self, account: Account, request_id: str, return_url: str) -> str:
        """Checkout for a signed-in customer (the account page: a plan that needs a card), coming back
        to `return_url` with `?checkout=success&session_id=...` or `?checkout=cancel`."""
        if account.status not in BILLABLE_STATUSES or not account.customer_id:
            raise ApiKeyRejected("account not billable")
        return self._payments.create_setup_checkout(
            account.customer_id,
            success_url=with_query(
                return_url,
                {CHECKOUT_OUTCOME_PARAMETER: "success"},
                {CHECKOUT_SESSION_PARAMETER: STRIPE_SESSION_ID_TEMPLATE},
            ),
            cancel_url=with_query(return_url, {CHECKOUT_OUTCOME_PARAMETER: "cancel"}),
            idempotency_key=f"tollgate-checkout-{request_id}",
        )

    def outcome(self, session_id: str) -> CheckoutOutcome:
        """What became of the account of a payment-method Checkout session. Raises
        UnknownCheckoutSession for a session Tollgate did not open for an account, or one older
        than OUTCOME_WINDOW_SECONDS."""
        session = self._payments.checkout_session(session_id)
        if session is None or session.created < self._clock() - OUTCOME_WINDOW_SECONDS:
            raise UnknownCheckoutSession("not a recent payment-method session")
        account = self._accounts.find_by_customer_id(session.customer_id)
        if account is None:
            raise UnknownCheckoutSession("no account has this session's customer")
        if not session.complete or account.last_checkout_session_id != session.id:
            return CheckoutOutcome(settled=False)
        return CheckoutOutcome(settled=True, status=account.status, reason=account.cut_off_reason)

    def _return_url(self, outcome: str, placeholders: dict[str, str] | None = None) -> str:
        """The signup page with `?checkout=<outcome>`."""
        return with_query(self._signup_url, {CHECKOUT_OUTCOME_PARAMETER: outcome}, placeholders)


def with_query(url: str, parameters: dict[str, str], placeholders: dict[str, str] | None = None) -> str:
    """`url` with `parameters` added to its query; `placeholders` are appended verbatim (urlencode
    would escape the braces Stripe looks for)."""
    parts = urlsplit(url)
    verbatim = "&".join(f"{name}={value}" for name, value in (placeholders or {}).items())
    query = "&".join(filter(None, [parts.query, urlencode(parameters), verbatim]))
    return urlunsplit(parts._replace(query=query))
