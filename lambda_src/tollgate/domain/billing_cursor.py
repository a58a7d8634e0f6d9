"""The billing part of the account row, as a value object: which Stripe customer and subscription the
account is, how far the Stripe events applied to it have got, whether it owes an open invoice, and the
newest Checkout session applied. What the webhook and the reconciler read before they decide, and
advance after.

The row stores these as its own attributes; `Account.billing` reads them as one BillingCursor and
`Account.with_billing` writes one back (like its PlanState and KeyRing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class BillingCursor:
    customer_id: str | None = None
    subscription_id: str | None = None
    # The newest Stripe event applied (its id and `created`): an older one arriving later is stale.
    last_event_id: str | None = None
    last_event_at: int = 0
    # Since when the customer owes an open invoice (any subscription's, current or ended) that Stripe
    # already tried to collect: the account is suspended whatever its plan until it is paid.
    owes_since: int | None = None
    # The newest Checkout session whose completion was applied: the signup page, back from Checkout,
    # learns from it that its card was dealt with (see tollgate.domain.checkout).
    last_checkout_session_id: str | None = None

    def after_event(self, event_id: str, created: int) -> BillingCursor:
        """Past the Stripe event `event_id` made at `created` (never moving back in time)."""
        return replace(self, last_event_id=event_id, last_event_at=max(created, self.last_event_at))

    def owing(self, since: int | None) -> BillingCursor:
        """Owing an open invoice since `since` (kept from the first time it was seen), or owing nothing."""
        return replace(self, owes_since=None if since is None else (self.owes_since or since))
