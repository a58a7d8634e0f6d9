"""TEST/DEV INFRASTRUCTURE ONLY: a reverse proxy in front of localstripe that fills its gaps.

Production code talks to real Stripe; in tests and `make dev` it talks to this bridge (through
TOLLGATE_STRIPE_API_BASE) and never knows the difference. Everything the bridge does not serve is
forwarded to localstripe unchanged. Nothing here is imported by lambda_src/ or infra/.

The bridge imitates Stripe's answers for what the product, `make stripe-setup`, `make dev` and
their tests use; it does not re-check Tollgate's own rules. One module per Stripe surface, each
with its state and its routes, and a docstring saying which gap of localstripe 1.15.10 it covers
(tests/localdev/stripe_bridge/ has one test file per module, one test per gap named after it):

1. idempotency.py    Idempotency-Key is ignored
2. prices.py         no /v1/prices (and 4: metered plans are invoiced up front)
3. subscriptions.py  no items[].price (and 4: default_incomplete; 9: no invoice.paid; 15: listed oldest
                     first; 16: a deleted customer's subscriptions stay active)
5. meters.py         no billing meters nor meter events
6. search.py         no customer search
7. checkout.py       no Checkout (plus the stand-in page)
8. webhooks.py       no /v1/webhook_endpoints; delivery of the bridge's own signed events
10. meter_summaries.py  no meter event summaries
11. invoice_preview.py  usage is never rated into invoices; no upcoming-invoice preview
12. invoices.py      no past_due subscription with an open invoice, no invoice list by status, no
                     invoice paid with the customer's saved card (a declining test card included)
13. billing_portal.py  no customer portal: configurations, sessions, the stand-in portal page
14. subscription_items.py  one item per subscription only, no item billing periods, no
                     customer.subscription.updated (served by subscriptions.py's update)
core.py holds what they share: Stripe's errors and form encoding, pagination, the localstripe client.

Not bridged: invoices localstripe finalizes bill no usage (only the preview rates it);
localstripe's own events carry `api_version` 2017-08-15 and no `price` on subscription items;
`past_due` exists through invoices.py's hook, other statuses localstripe cannot reach (unpaid,
paused) only as events sent with `POST /_bridge/events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.billing_portal import BillingPortal, PortalState
from localdev.stripe_bridge.checkout import Checkout, CheckoutState
from localdev.stripe_bridge.core import Surface, Upstream, authentication, stripe_errors
from localdev.stripe_bridge.idempotency import IdempotencyState, idempotency_middleware
from localdev.stripe_bridge.invoice_preview import InvoicePreview
from localdev.stripe_bridge.invoices import Invoices, InvoiceState
from localdev.stripe_bridge.meter_summaries import MeterSummaries
from localdev.stripe_bridge.meters import Meters, MeterState
from localdev.stripe_bridge.prices import Prices, PriceState
from localdev.stripe_bridge.search import CustomerSearch
from localdev.stripe_bridge.subscription_items import SubscriptionItemState
from localdev.stripe_bridge.subscriptions import Subscriptions
from localdev.stripe_bridge.webhooks import WebhookDelivery, Webhooks, WebhookState

__all__ = ["BRIDGE_KEY", "Bridge", "BridgeState", "WebhookDelivery", "create_app"]


@dataclass
class BridgeState:
    """Everything the bridge stores, one part per surface; in memory, fresh for each bridge."""

    idempotency: IdempotencyState = field(default_factory=IdempotencyState)
    prices: PriceState = field(default_factory=PriceState)
    meters: MeterState = field(default_factory=MeterState)
    checkout: CheckoutState = field(default_factory=CheckoutState)
    webhooks: WebhookState = field(default_factory=WebhookState)
    invoices: InvoiceState = field(default_factory=InvoiceState)
    portal: PortalState = field(default_factory=PortalState)
    subscription_items: SubscriptionItemState = field(default_factory=SubscriptionItemState)


class Bridge:
    """The running bridge as a harness drives it besides HTTP: send an event, then close."""

    def __init__(self, upstream: Upstream, webhooks: Webhooks) -> None:
        self._upstream = upstream
        self._webhooks = webhooks

    async def send_event(
        self, event_type: str, data_object: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> list[WebhookDelivery]:
        """Deliver a signed Stripe event to the subscribed webhook endpoints; wait for their answers."""
        return await self._webhooks.send_event(event_type, data_object, previous_attributes)

    async def close(self) -> None:
        await self._webhooks.close()
        await self._upstream.close()


BRIDGE_KEY = web.AppKey("bridge", Bridge)


def create_app(upstream_url: str, state: BridgeState | None = None) -> web.Application:
    """The bridge as an aiohttp app in front of the localstripe at `upstream_url`."""
    state = state or BridgeState()
    upstream = Upstream(upstream_url)
    webhooks = Webhooks(upstream, state.webhooks)
    surfaces: list[Surface] = [
        Prices(upstream, state.prices, state.meters),
        Subscriptions(upstream, state.prices, state.invoices, state.subscription_items, webhooks),
        Invoices(upstream, state.invoices, webhooks),
        Meters(state.meters),
        MeterSummaries(state.meters),
        InvoicePreview(upstream, state.prices, state.meters, state.subscription_items),
        CustomerSearch(upstream),
        Checkout(upstream, state.checkout, webhooks),
        BillingPortal(upstream, state.portal),
        webhooks,
    ]
    app = web.Application(middlewares=[stripe_errors, idempotency_middleware(state.idempotency), authentication])
    bridge = app[BRIDGE_KEY] = Bridge(upstream, webhooks)

    async def close(_app: web.Application) -> None:
        await bridge.close()

    app.on_cleanup.append(close)
    for surface in surfaces:
        for method, path, handler in surface.routes():
            app.router.add_route(method, path, handler)
    app.router.add_route("*", "/{tail:.*}", upstream.forward)
    return app
