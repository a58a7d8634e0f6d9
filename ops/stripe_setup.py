"""`make stripe-setup`: create Tollgate's Stripe catalog once, and find it again on every re-run.

Creates (or finds) the product, the Billing Meter that usage is reported to (current Stripe API
versions have no usage records: a metered price must point at a meter), the metered recurring
price, and optionally the webhook endpoint the stack's `/stripe/webhook` route needs. Each object
is found before anything is created:

- product: metadata `tollgate=product` and `tollgate_lookup_key=<the price's lookup key>`, so two
  deployments (say staging and prod, with their own lookup keys) can share one Stripe account;
- meter: its `event_name`;
- price: its `lookup_key`, and a fingerprint of everything that defines it (kept in its
  metadata): Stripe prices are immutable, so a changed pricing model creates a new price that
  takes the lookup key over, and the old one keeps billing existing subscriptions;
- webhook endpoint: its URL (its enabled events are brought in line with the contract).

Creates also carry deterministic idempotency keys, so a re-run after a crash mid-request cannot
create twice. `CatalogSetup` holds the logic and is reused by `make dev`'s bootstrap; `main`
only parses arguments and prints.

    make stripe-setup ARGS="--product-name 'Acme API' --meter-event-name acme_api_calls \\
        --pricing-model graduated --currency usd \\
        --tier up_to=1000,unit_amount_decimal=0.5 --tier up_to=inf,unit_amount_decimal=0.2"
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import stripe

from tollgate import contract
from tollgate.adapters.stripe_client import stripe_client

API_KEY_ENV = "STRIPE_API_KEY"
PRICING_MODELS = ("per-unit", "package", "graduated", "volume")
INTERVALS = ("day", "week", "month", "year")
DEFAULT_LOOKUP_KEY = "tollgate_metered"
METER_PAYLOAD_CUSTOMER_KEY = "stripe_customer_id"
METER_PAYLOAD_VALUE_KEY = "value"

_CURRENCY = re.compile(r"^[a-z]{3}$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_LOOKUP_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_API_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")


class SetupError(ValueError):
    """A setting is invalid; the message says which one and what is expected."""


class Change(str, Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    REPLACED = "replaced"  # price only: a new price took the lookup key over


@dataclass(frozen=True)
class Tier:
    """One pricing tier; `up_to` None is Stripe's `inf` (the last, open-ended tier)."""

    up_to: int | None
    unit_amount_decimal: Decimal | None = None
    flat_amount_decimal: Decimal | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"up_to": "inf" if self.up_to is None else self.up_to}
        if self.unit_amount_decimal is not None:
            params["unit_amount_decimal"] = str(self.unit_amount_decimal)
        if self.flat_amount_decimal is not None:
            params["flat_amount_decimal"] = str(self.flat_amount_decimal)
        return params


@dataclass(frozen=True)
class CatalogSpec:
    """What the catalog should look like. Construction validates every rule the Stripe API
    would otherwise reject half-way through, with a message naming the argument."""

    product_name: str
    meter_event_name: str
    pricing_model: str
    currency: str = "usd"
    unit_amount_decimal: Decimal | None = None  # per unit, or per package, in the currency's minor unit
    package_size: int | None = None
    tiers: tuple[Tier, ...] = ()
    interval: str = "month"
    lookup_key: str = DEFAULT_LOOKUP_KEY
    meter_display_name: str = ""

    def __post_init__(self) -> None:
        if not self.product_name.strip():
            raise SetupError("--product-name must not be empty")
        if not _EVENT_NAME.match(self.meter_event_name):
            raise SetupError(
                "--meter-event-name must be 1-100 letters, digits, '_', '-', '.' or ':' starting with a letter or digit"
            )
        if self.pricing_model not in PRICING_MODELS:
            raise SetupError(f"--pricing-model must be one of {', '.join(PRICING_MODELS)}")
        if not _CURRENCY.match(self.currency):
            raise SetupError("--currency must be a three-letter ISO code such as usd or eur")
        if self.interval not in INTERVALS:
            raise SetupError(f"--interval must be one of {', '.join(INTERVALS)}")
        if not _LOOKUP_KEY.match(self.lookup_key):
            raise SetupError("--lookup-key must be 1-200 letters, digits, '_', '-', '.' or ':'")
        if self.pricing_model in ("per-unit", "package"):
            self._check_flat_price()
        else:
            self._check_tiers()
        if not self.meter_display_name:
            object.__setattr__(self, "meter_display_name", f"{self.product_name.strip()} API calls")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> CatalogSpec:
        """The spec the command line asks for (see build_parser)."""
        return cls(
            product_name=args.product_name,
            meter_event_name=args.meter_event_name,
            meter_display_name=args.meter_display_name,
            pricing_model=args.pricing_model,
            currency=args.currency,
            unit_amount_decimal=args.unit_amount,
            package_size=args.package_size,
            tiers=tuple(args.tiers),
            interval=args.interval,
            lookup_key=args.lookup_key,
        )

    def _check_flat_price(self) -> None:
        if self.tiers:
            raise SetupError(f"--tier is for the graduated and volume models, not {self.pricing_model}")
        if self.unit_amount_decimal is None:
            raise SetupError(f"--unit-amount is required for the {self.pricing_model} model")
        if self.pricing_model == "package":
            if self.package_size is None or self.package_size < 2:
                raise SetupError("--package-size (2 or more units per package) is required for the package model")
        elif self.package_size is not None:
            raise SetupError("--package-size is only for the package model")

    def _check_tiers(self) -> None:
        if self.unit_amount_decimal is not None or self.package_size is not None:
            raise SetupError(f"the {self.pricing_model} model takes --tier options, not --unit-amount/--package-size")
        if not self.tiers:
            raise SetupError(f"the {self.pricing_model} model needs at least one --tier (the last with up_to=inf)")
        bounds = [tier.up_to for tier in self.tiers]
        if bounds[-1] is not None:
            raise SetupError("the last --tier must have up_to=inf")
        finite = bounds[:-1]
        if None in finite or finite != sorted(set(finite)):
            raise SetupError("--tier up_to values must increase strictly, and only the last may be inf")

    def price_params(self, product_id: str, meter_id: str) -> dict[str, Any]:
        """The `POST /v1/prices` parameters for this spec (without lookup key and metadata)."""
        params: dict[str, Any] = {
            "currency": self.currency,
            "product": product_id,
            "recurring": {"interval": self.interval, "usage_type": "metered", "meter": meter_id},
        }
        if self.tiers:
            params.update(
                billing_scheme="tiered",
                tiers_mode=self.pricing_model,
                tiers=[tier.params() for tier in self.tiers],
            )
        else:
            params.update(billing_scheme="per_unit", unit_amount_decimal=str(self.unit_amount_decimal))
            if self.package_size is not None:
                params["transform_quantity"] = {"divide_by": self.package_size, "round": "up"}
        return params


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
    webhook: WebhookEndpoint | None = None


class CatalogSetup:
    """Finds or creates each catalog object through one Stripe client."""

    def __init__(self, client: stripe.StripeClient):
        self._stripe = client.v1

    def ensure(self, spec: CatalogSpec, webhook_url: str | None = None) -> CatalogResult:
        product_id, product_change = self._ensure_product(spec.product_name.strip(), spec.lookup_key)
        meter_id, meter_change = self._ensure_meter(spec.meter_event_name, spec.meter_display_name)
        price_id, price_change = self._ensure_price(spec, product_id, meter_id)
        webhook = self.ensure_webhook(webhook_url) if webhook_url else None
        return CatalogResult(
            product_id=product_id,
            meter_id=meter_id,
            price_id=price_id,
            changes={"product": product_change, "meter": meter_change, "price": price_change},
            webhook=webhook,
        )

    def _ensure_product(self, name: str, lookup_key: str) -> tuple[str, Change]:
        metadata = {"tollgate": "product", "tollgate_lookup_key": lookup_key}
        for product in self._stripe.products.list({"limit": 100}).auto_paging_iter():
            if metadata.items() <= _metadata(product).items():
                if product.name == name:
                    return product.id, Change.UNCHANGED
                self._stripe.products.update(product.id, {"name": name})
                return product.id, Change.UPDATED
        params = {"name": name, "metadata": metadata}
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
        params = {
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
        price = self._stripe.prices.create(params, _idempotent("price", params))
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
            self._stripe.webhook_endpoints.update(endpoint.id, {"enabled_events": events})
            return WebhookEndpoint(endpoint.id, Change.UPDATED)
        params = {
            "url": url,
            "enabled_events": events,
            "api_version": contract.STRIPE_API_VERSION,
            "description": "Tollgate: API keys follow their subscription",
            "metadata": {"tollgate": "webhook"},
        }
        endpoint = self._stripe.webhook_endpoints.create(params, _idempotent("webhook", params))
        return WebhookEndpoint(endpoint.id, Change.CREATED, endpoint.secret)


def _metadata(stripe_object: Any) -> dict[str, str]:
    return stripe_object.metadata.to_dict() if stripe_object.metadata else {}


def _fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]


def _idempotent(kind: str, params: dict[str, Any]) -> dict[str, str]:
    """Same object, same key: a create retried after a lost response returns the first one."""
    return {"idempotency_key": f"tollgate-setup-{kind}-{_fingerprint(params)}"}


# --- command line --------------------------------------------------------------------------------


def _decimal_amount(text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (amounts are in cents, e.g. 0.5)") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more (in cents)")
    if amount.as_tuple().exponent < -12:
        raise argparse.ArgumentTypeError(f"{text!r} has more than 12 decimal places, Stripe's maximum")
    return amount


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of 1 or more")
    return int(text)


def _tier(text: str) -> Tier:
    """`up_to=1000,unit_amount_decimal=0.5[,flat_amount_decimal=100]`; up_to may be `inf`."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not value.strip():
            raise argparse.ArgumentTypeError(f"{part!r} is not name=value (e.g. up_to=1000,unit_amount_decimal=0.5)")
        fields[name.strip()] = value.strip()
    unknown = set(fields) - {"up_to", "unit_amount_decimal", "flat_amount_decimal"}
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown tier field(s) {', '.join(sorted(unknown))}; use up_to, unit_amount_decimal, flat_amount_decimal"
        )
    if "up_to" not in fields:
        raise argparse.ArgumentTypeError(f"{text!r} needs up_to=<units> or up_to=inf")
    if "unit_amount_decimal" not in fields and "flat_amount_decimal" not in fields:
        raise argparse.ArgumentTypeError(f"{text!r} needs unit_amount_decimal and/or flat_amount_decimal")
    amounts = {name: _decimal_amount(fields[name]) for name in ("unit_amount_decimal", "flat_amount_decimal") if name in fields}
    up_to = None if fields["up_to"] == "inf" else _positive_int(fields["up_to"])
    return Tier(up_to=up_to, **amounts)


def _webhook_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL; use the stack output StripeWebhookUrl")
    return text


USAGE_EXAMPLES = """\
Amounts are in the currency's minor unit (cents), decimals allowed: --unit-amount 0.5 charges half
a cent per call. Examples:
  make stripe-setup ARGS="--product-name 'Acme API' --meter-event-name acme_api_calls --unit-amount 0.5"
  make stripe-setup ARGS="--product-name 'Acme API' --meter-event-name acme_api_calls \\
      --pricing-model graduated --tier up_to=1000,unit_amount_decimal=0.5 --tier up_to=inf,unit_amount_decimal=0.2 \\
      --webhook-url <StripeWebhookUrl stack output>"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make stripe-setup ARGS=...",
        description="Create Tollgate's Stripe product, billing meter and metered price (idempotent: "
        "re-running finds them). Reads the key from $STRIPE_API_KEY or asks for it.",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--product-name", required=True, help="product name customers see on invoices")
    parser.add_argument("--meter-event-name", required=True, help="meter event name usage is reported under")
    parser.add_argument("--meter-display-name", default="", help="meter name in the dashboard")
    parser.add_argument(
        "--pricing-model",
        choices=PRICING_MODELS,
        default="per-unit",
        help="default per-unit (--unit-amount); package (--unit-amount, --package-size); graduated or volume (--tier)",
    )
    parser.add_argument("--currency", type=str.lower, default="usd", help="ISO code, default usd")
    parser.add_argument("--unit-amount", type=_decimal_amount, help="per-unit: price per call; package: per package")
    parser.add_argument("--package-size", type=_positive_int, help="package model: calls per package")
    parser.add_argument(
        "--tier",
        dest="tiers",
        action="append",
        type=_tier,
        default=[],
        metavar="up_to=N|inf,unit_amount_decimal=X[,flat_amount_decimal=Y]",
        help="graduated/volume models; repeat, in increasing order, the last with up_to=inf",
    )
    parser.add_argument("--interval", choices=INTERVALS, default="month", help="billing period, default month")
    parser.add_argument(
        "--lookup-key",
        default=DEFAULT_LOOKUP_KEY,
        help=f"how the price is found again (default {DEFAULT_LOOKUP_KEY}; use one per deployment sharing a Stripe account)",
    )
    parser.add_argument(
        "--webhook-url",
        type=_webhook_url,
        help="also register this webhook endpoint (the stack output StripeWebhookUrl) for Tollgate's events",
    )
    parser.add_argument("--api-base", help="Stripe API base URL (emulators only; default: Stripe itself)")
    return parser


def read_api_key(environ: dict[str, str], prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The secret key from the environment or typed without echo; never printed."""
    key = environ.get(API_KEY_ENV, "").strip()
    if not key:
        try:
            key = prompt("Stripe secret key (sk_test_... or sk_live_...): ").strip()
        except EOFError:  # no terminal to ask on (CI, a pipe)
            key = ""
    if not _API_KEY.match(key):
        raise SetupError(f"the Stripe key must look like sk_test_..., sk_live_... or rk_...; set {API_KEY_ENV}")
    return key


def render(result: CatalogResult, spec: CatalogSpec) -> Iterable[str]:
    yield f"product  {result.product_id}  {result.changes['product'].value}"
    yield f"meter    {result.meter_id}  {result.changes['meter'].value}  (event_name {spec.meter_event_name})"
    yield f"price    {result.price_id}  {result.changes['price'].value}  (lookup_key {spec.lookup_key})"
    if result.changes["price"] is Change.REPLACED:
        yield "         the old price keeps billing existing subscriptions; new sign-ups use the new one after deploy"
    if result.webhook:
        yield f"webhook  {result.webhook.id}  {result.webhook.change.value}"
        if result.webhook.signing_secret:
            yield from _secret_instructions(result.webhook.signing_secret)
        else:
            yield "         its signing secret was shown when it was created (roll it in the Stripe dashboard if lost)"
    yield ""
    yield "Put the price in cdk.json's \"context\":"
    yield f'    "stripe_price_id": "{result.price_id}",'
    yield f"or deploy with:  npx cdk deploy -c stripe_price_id={result.price_id}"


def _secret_instructions(secret: str) -> Iterable[str]:
    field_name = contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET
    yield f"         signing secret (shown ONCE, store it now): {secret}"
    yield f"         put it in the stack's secret under \"{field_name}\" (SecretArn is a stack output):"
    yield "           aws secretsmanager get-secret-value --secret-id \"$SECRET_ARN\" --query SecretString --output text \\"
    yield f"             | jq --arg s '{secret}' '.{field_name} = $s' \\"
    yield "             | aws secretsmanager put-secret-value --secret-id \"$SECRET_ARN\" --secret-string file:///dev/stdin"


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        spec = CatalogSpec.from_arguments(args)
        api_key = read_api_key(dict(os.environ) if environ is None else environ)
    except SetupError as error:
        parser.error(str(error))
    try:
        result = CatalogSetup(stripe_client(api_key, api_base=args.api_base)).ensure(spec, args.webhook_url)
    except stripe.APIConnectionError:
        print(f"Could not reach Stripe at {args.api_base or 'api.stripe.com'}; check the network and retry "
              "(re-running is safe).", file=sys.stderr)
        return 1
    except stripe.StripeError as error:
        print(f"Stripe refused: {error.user_message or error}", file=sys.stderr)
        return 1
    for line in render(result, spec):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
