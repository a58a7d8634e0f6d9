"""Making Stripe match a CatalogSpec: find each catalog object, create only what is missing.

Creates (or finds) the product, the Billing Meter that usage is reported to (current Stripe API
versions have no usage records: a metered price must point at a meter), the metered recurring
price, and optionally the webhook endpoint the stack's `/stripe/webhook` route needs. Each object
is found before anything is created:

- product: metadata `tollgate=product` and `tollgate_lookup_key=<the price's lookup key>`, so two
  deployments (say staging and prod, with their own lookup keys) can share one Stripe account;
- meter: its `event_name` (an inactive one is reactivated, a renamed one renamed back);
- price: its `lookup_key`, and a fingerprint of everything that defines it (kept in its
  metadata): Stripe prices are immutable, so a changed pricing model creates a new price that
  takes the lookup key over (`transfer_lookup_key`), and the old one keeps billing existing
  subscriptions;
- webhook endpoint: its URL (its enabled events are brought in line with the contract);
- customer portal configuration: its metadata (contract.STRIPE_PORTAL_CONFIGURATION_METADATA); its
  features are brought in line with PORTAL_FEATURES: invoice history, payment method update and
  cancellation at the end of the period (usage up to then is still invoiced), but no change of the
  customer's email (it is the account) or plan (there is one price). The account page's "Manage
  billing" opens it; what customers do there reaches Tollgate as webhook events.

With plans, `make stripe-setup --plans` (ops.plan_catalog) runs `ensure_price` once per paid plan
and the portal and webhook once. Creates also carry deterministic idempotency keys, so a re-run after a crash mid-request cannot
create twice. Used by `make stripe-setup` (ops.stripe_setup) and by `make dev`'s bootstrap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

import stripe

from ops.catalog_spec import CatalogSpec

if TYPE_CHECKING:  # Stripe's own parameter types: what each create and update takes
    from stripe import RequestOptions
    from stripe.params import (
        PriceCreateParams,
        ProductCreateParams,
        WebhookEndpointCreateParams,
        WebhookEndpointUpdateParams,
    )
    from stripe.params.billing import MeterCreateParams
    from stripe.params.billing_portal import ConfigurationCreateParams, ConfigurationUpdateParams
from tollgate import contract

PORTAL_FEATURES: dict[str, dict[str, Any]] = {
    "invoice_history": {"enabled": True},
    "payment_method_update": {"enabled": True},
    "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
    "customer_update": {"enabled": False},
    "subscription_update": {"enabled": False},
}
METER_PAYLOAD_CUSTOMER_KEY = "stripe_customer_id"
METER_PAYLOAD_VALUE_KEY = "value"


class Change(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    REPLACED = "replaced"  # price only: a new price took the lookup key over


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    change: Change
    signing_secret: str | None = field(default=None, repr=False)  # only when just created


@dataclass(frozen=True)
class CatalogResult:
    product_id: str
    meter_id: str
    price_id: str
    changes: dict[str, Change]
    portal_configuration_id: str = ""
    webhook: WebhookEndpoint | None = None


class CatalogSetup:
    """Finds or creates each catalog object through one Stripe client."""

    def __init__(self, client: stripe.StripeClient):
        self._stripe = client.v1

    def ensure(self, spec: CatalogSpec, webhook_url: str | None = None) -> CatalogResult:
        """The whole catalog of one price: its product, meter and price, the portal, the webhook."""
        result = self.ensure_price(spec)
        portal_id, portal_change = self.ensure_portal(spec.product_name.strip())
        return replace(
            result,
            changes={**result.changes, "portal": portal_change},
            portal_configuration_id=portal_id,
            webhook=self.ensure_webhook(webhook_url) if webhook_url else None,
        )

    def ensure_price(self, spec: CatalogSpec) -> CatalogResult:
        """The product, meter and metered price of `spec` (one per paid plan with `--plans`)."""
        product_id, product_change = self._ensure_product(spec.product_name.strip(), spec.lookup_key)
        meter_id, meter_change = self._ensure_meter(spec.meter_event_name, spec.meter_display_name)
        price_id, price_change = self._ensure_price(spec, product_id, meter_id)
        return CatalogResult(
            product_id=product_id,
            meter_id=meter_id,
            price_id=price_id,
            changes={"product": product_change, "meter": meter_change, "price": price_change},
        )

    def ensure_portal(self, product_name: str) -> tuple[str, Change]:
        for configuration in self._stripe.billing_portal.configurations.list({"active": True, "limit": 100}).data:
            if _metadata(configuration) != contract.STRIPE_PORTAL_CONFIGURATION_METADATA:
                continue
            features = configuration.features.to_dict()
            if all(wanted.items() <= features.get(name, {}).items() for name, wanted in PORTAL_FEATURES.items()):
                return configuration.id, Change.UNCHANGED
            update = cast("ConfigurationUpdateParams", {"features": PORTAL_FEATURES})
            self._stripe.billing_portal.configurations.update(configuration.id, update)
            return configuration.id, Change.UPDATED
        params = cast(
            "ConfigurationCreateParams",
            {
                "features": PORTAL_FEATURES,
                "metadata": dict(contract.STRIPE_PORTAL_CONFIGURATION_METADATA),
                "business_profile": {"headline": f"{product_name}: invoices, payment method, cancellation"},
            },
        )
        configuration = self._stripe.billing_portal.configurations.create(params, _idempotent("portal", params))
        return configuration.id, Change.CREATED

    def _ensure_product(self, name: str, lookup_key: str) -> tuple[str, Change]:
        metadata = {"tollgate": "product", "tollgate_lookup_key": lookup_key}
        for product in self._stripe.products.list({"limit": 100}).auto_paging_iter():
            if metadata.items() <= _metadata(product).items():
                if product.name == name:
                    return product.id, Change.UNCHANGED
                self._stripe.products.update(product.id, {"name": name})
                return product.id, Change.UPDATED
        params: ProductCreateParams = {"name": name, "metadata": metadata}
        product = self._stripe.products.create(params, _idempotent("product", params))
        return product.id, Change.CREATED

    def _ensure_meter(self, event_name: str, display_name: str) -> tuple[str, Change]:
        for meter in self._stripe.billing.meters.list({"limit": 100}).auto_paging_iter():
            if meter.event_name != event_name:
                continue
            change = Change.UNCHANGED
            if meter.status != "active":
                self._stripe.billing.meters.reactivate(meter.id)
                change = Change.UPDATED
            if meter.display_name != display_name:
                self._stripe.billing.meters.update(meter.id, {"display_name": display_name})
                change = Change.UPDATED
            return meter.id, change
        params: MeterCreateParams = {
            "display_name": display_name,
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": METER_PAYLOAD_CUSTOMER_KEY},
            "value_settings": {"event_payload_key": METER_PAYLOAD_VALUE_KEY},
        }
        meter = self._stripe.billing.meters.create(params, _idempotent("meter", params))
        return meter.id, Change.CREATED

    def _ensure_price(self, spec: CatalogSpec, product_id: str, meter_id: str) -> tuple[str, Change]:
        params = spec.price_params(product_id, meter_id)
        fingerprint = _fingerprint(params)
        existing = self._stripe.prices.list({"lookup_keys": [spec.lookup_key], "active": True, "limit": 1}).data
        if existing and _metadata(existing[0]).get("tollgate_spec") == fingerprint:
            return existing[0].id, Change.UNCHANGED
        params |= {
            "lookup_key": spec.lookup_key,
            "transfer_lookup_key": bool(existing),
            "metadata": {"tollgate": "price", "tollgate_spec": fingerprint},
        }
        price = self._stripe.prices.create(cast("PriceCreateParams", params), _idempotent("price", params))
        return price.id, Change.REPLACED if existing else Change.CREATED

    def ensure_webhook(self, url: str) -> WebhookEndpoint:
        """Register `url` for contract.STRIPE_WEBHOOK_EVENTS, or find it. Stripe reveals the
        signing secret only in the create response, so it is returned only then."""
        events = sorted(contract.STRIPE_WEBHOOK_EVENTS)
        for endpoint in self._stripe.webhook_endpoints.list({"limit": 100}).auto_paging_iter():
            if endpoint.url != url:
                continue
            if sorted(endpoint.enabled_events) == events:
                return WebhookEndpoint(endpoint.id, Change.UNCHANGED)
            self._stripe.webhook_endpoints.update(
                endpoint.id, cast("WebhookEndpointUpdateParams", {"enabled_events": events})
            )
            return WebhookEndpoint(endpoint.id, Change.UPDATED)
        params = cast(
            "WebhookEndpointCreateParams",
            {  # (api_version: a str, the SDK's list of literals)
                "url": url,
                "enabled_events": events,
                "api_version": contract.STRIPE_API_VERSION,
                "description": "Tollgate: API keys follow their subscription",
                "metadata": {"tollgate": "webhook"},
            },
        )
        endpoint = self._stripe.webhook_endpoints.create(params, _idempotent("webhook", params))
        return WebhookEndpoint(endpoint.id, Change.CREATED, endpoint.secret)


def _metadata(stripe_object: Any) -> dict[str, str]:
    return stripe_object.metadata.to_dict() if stripe_object.metadata else {}


def _fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]


def _idempotent(kind: str, params: Any) -> RequestOptions:
    """Same object, same key: a create retried after a lost response returns the first one."""
    return {"idempotency_key": f"tollgate-setup-{kind}-{_fingerprint(params)}"}
