"""`make stripe-setup`: create Tollgate's Stripe catalog once, and find it again on every re-run.

The command line only: it parses the options into an ops.catalog_spec.CatalogSpec (which checks
them before any Stripe call), reads the secret key, runs ops.catalog_setup.CatalogSetup and prints
what it found or created, and what to do with the ids.

    make stripe-setup ARGS="--product-name 'Acme API' --meter-event-name acme_api_calls \\
        --pricing-model graduated --currency usd \\
        --tier up_to=1000,unit_amount_decimal=0.5 --tier up_to=inf,unit_amount_decimal=0.2"

With `--plans` (cdk.json's plans) or `--plans-file`, and `--prices` (how each paid plan's price is
built, see ops.plan_catalog), it does the same for every paid plan and prints the `plans` block
with each paid plan's stripe_price_id filled in, to paste into cdk.json.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import stripe

from infra.settings import load_cdk_json_context
from infra.settings_values import USAGE_REPORTERS
from ops import plan_catalog
from ops.catalog_setup import CatalogResult, CatalogSetup, Change, WebhookEndpoint
from ops.catalog_spec import (
    DEFAULT_LOOKUP_KEY,
    INTERVALS,
    PRICING_MODELS,
    CatalogSpec,
    SetupError,
    Tier,
    decimal_amount,
    positive_int,
    tier,
)
from tollgate import contract
from tollgate.adapters.stripe_client import stripe_client

API_KEY_ENV = "STRIPE_API_KEY"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
# The price this command creates is billed through a Stripe billing meter: only Tollgate's own usage
# reporter feeds it. Moesif's Stripe integration sends legacy usage records instead, which current
# Stripe API versions no longer accept for a new metered price.
MOESIF_REFUSAL = (
    "usage_reporter is moesif, and the price make stripe-setup creates would bill nothing: it is billed through a "
    "Stripe billing meter, which only Tollgate's usage reporter sends events to. Moesif's Stripe integration needs a "
    'price that takes usage records ("Moesif supports Stripe usage records for usage-based billing. Therefore, make '
    'sure you use usage records when defining prices in Stripe.", '
    "https://www.moesif.com/docs/metered-billing/integrate-with-stripe/), and since API 2025-03-31.basil Stripe no "
    "longer creates a metered price without a meter (https://docs.stripe.com/changelog/basil/2025-03-31/"
    "deprecate-legacy-usage-based-billing). Either set usage_reporter to tollgate (cdk.json, the default) or create "
    "the price Moesif can bill in Moesif's product catalog (or in a Stripe account or API version that still offers "
    "usage records) and set stripe_price_id to it."
)
PLANS_BLOCK_PREFIX = '"plans": '
_API_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")


def _option(read: Callable[..., Any]) -> Callable[..., Any]:
    """An ops.catalog_spec reader as an argparse `type`: its SetupError becomes argparse's message."""

    def parse(*args: Any) -> Any:
        try:
            return read(*args)
        except SetupError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


_decimal_amount = _option(decimal_amount)
_positive_int = _option(positive_int)


@_option
def _tier(text: str) -> Tier:
    """`up_to=1000,unit_amount_decimal=0.5[,flat_amount_decimal=100]`; up_to may be `inf`."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not value.strip():
            raise SetupError(f"{part!r} is not name=value (e.g. up_to=1000,unit_amount_decimal=0.5)")
        fields[name.strip()] = value.strip()
    return tier(fields, repr(text))


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
Every paid plan of cdk.json's "plans" (prices.json: {"pro": {"unit_amount": "0.05"}, ...}, see
docs/billing-lifecycle.md):
  make stripe-setup ARGS="--plans --prices prices.json --product-name 'Acme API'"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make stripe-setup ARGS=...",
        description="Create Tollgate's Stripe product, billing meter and metered price (idempotent: "
        "re-running finds them). Reads the key from $STRIPE_API_KEY or asks for it.",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--product-name",
        help="product name customers see on invoices (with --plans: followed "
        "by the plan's name; default cdk.json's product_name)",
    )
    parser.add_argument("--meter-event-name", help="meter event name usage is reported under")
    parser.add_argument("--meter-display-name", help="meter name in the dashboard")
    parser.add_argument(
        "--pricing-model",
        choices=PRICING_MODELS,
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
        help=f"how the price is found again (default {DEFAULT_LOOKUP_KEY}; use one per deployment sharing a Stripe account)",
    )
    parser.add_argument(
        "--webhook-url",
        type=_webhook_url,
        help="also register this webhook endpoint (the stack output StripeWebhookUrl) for Tollgate's events",
    )
    parser.add_argument("--api-base", help="Stripe API base URL (emulators only; default: Stripe itself)")
    plans = parser.add_argument_group("every paid plan (instead of the price options above)")
    plans.add_argument("--plans", action="store_true", help='the plans of cdk.json\'s "plans"')
    plans.add_argument("--plans-file", type=Path, help='the plans of this JSON file (a list, like cdk.json\'s "plans")')
    plans.add_argument(
        "--prices",
        type=Path,
        help="JSON file: per paid plan id, how its price is built (see docs/billing-lifecycle.md)",
    )
    plans.add_argument(
        "--plan-prefix",
        default=plan_catalog.DEFAULT_PREFIX,
        help=f"derives each plan's lookup key <prefix>_<plan> and meter event <prefix>_<plan>_calls "
        f"(default {plan_catalog.DEFAULT_PREFIX}; one per deployment sharing a Stripe account)",
    )
    parser.add_argument(
        "--usage-reporter",
        choices=USAGE_REPORTERS,
        type=str.lower,
        help="who reports usage to Stripe (default: usage_reporter in cdk.json); the meter price is "
        "refused with moesif, whose integration cannot bill it",
    )
    return parser


SINGLE_PRICE_OPTIONS = (
    "meter_event_name",
    "meter_display_name",
    "pricing_model",
    "unit_amount",
    "package_size",
    "tiers",
    "lookup_key",
)


def catalog_spec(args: argparse.Namespace) -> CatalogSpec:
    """The spec the command line asks for (see build_parser); SetupError names a bad option."""
    missing = [
        f"--{name.replace('_', '-')}" for name in ("product_name", "meter_event_name") if not getattr(args, name)
    ]
    if missing:
        raise SetupError(
            f"{' and '.join(missing)} required (or --plans/--plans-file with --prices for every paid plan)"
        )
    return CatalogSpec(
        product_name=args.product_name,
        meter_event_name=args.meter_event_name,
        meter_display_name=args.meter_display_name or "",
        pricing_model=args.pricing_model or "per-unit",
        currency=args.currency,
        unit_amount_decimal=args.unit_amount,
        package_size=args.package_size,
        tiers=tuple(args.tiers),
        interval=args.interval,
        lookup_key=args.lookup_key or DEFAULT_LOOKUP_KEY,
    )


@dataclass(frozen=True)
class PlansRequest:
    block: list[Any]  # as given: printed back with the price ids filled in
    paid: tuple[plan_catalog.PaidPlan, ...]
    product_name: str  # of the customer portal's headline; each plan's product adds the plan's name


def plans_request(args: argparse.Namespace, context: dict[str, Any]) -> PlansRequest:
    """The plans block (as given) and a spec per paid plan; SetupError names the option, file or plan."""
    given = [f"--{name.replace('_', '-')}" for name in SINGLE_PRICE_OPTIONS if getattr(args, name)]
    if given:
        raise SetupError(f"{', '.join(given)}: with --plans each plan's price comes from the --prices file")
    if args.plans_file:
        raw, source = _read_json(args.plans_file, "--plans-file"), f"--plans-file {args.plans_file}"
    else:
        raw, source = context.get("plans"), "cdk.json context 'plans'"
    if args.prices is None:
        raise SetupError(
            "--prices <file> is required with --plans: per paid plan id, how its price is built, e.g. "
            '{"pro": {"unit_amount": "0.05"}}'
        )
    product_name = args.product_name or context.get("product_name") or ""
    if not product_name.strip():
        raise SetupError("--product-name is required (cdk.json has no product_name to default to)")
    paid = plan_catalog.paid_plans(
        raw,
        _read_json(args.prices, "--prices"),
        source=source,
        product_name=product_name,
        currency=args.currency,
        interval=args.interval,
        prefix=args.plan_prefix,
    )
    return PlansRequest(raw, paid, product_name)


def _read_json(path: Path, option: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise SetupError(f"{option} {path}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise SetupError(f"{option} {path} is not valid JSON: {error}") from None


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
    yield from _render_price(result, spec)
    yield from _render_shared(result.portal_configuration_id, result.changes["portal"], result.webhook)
    yield ""
    yield 'Put the price in cdk.json\'s "context":'
    yield f'    "stripe_price_id": "{result.price_id}",'
    yield f"or deploy with:  npx cdk deploy -c stripe_price_id={result.price_id}"


def setup_plans(setup: CatalogSetup, request: PlansRequest, webhook_url: str | None) -> Iterable[str]:
    """Every paid plan's product, meter and price, then the portal and webhook all plans share;
    yields the report ending with the plans block to paste into cdk.json."""
    results = plan_catalog.ensure_plans(setup, request.paid)
    portal = setup.ensure_portal(request.product_name.strip())
    webhook = setup.ensure_webhook(webhook_url) if webhook_url else None
    block = plan_catalog.filled_plan_block(request.block, {plan_id: r.price_id for plan_id, r in results.items()})
    for plan in request.paid:
        yield f"plan {plan.plan_id}"
        yield from ("  " + line for line in _render_price(results[plan.plan_id], plan.spec))
    free = [item["id"] for item in block if item["id"] not in results]
    if free:
        yield f"free plan(s) {', '.join(free)}: nothing in Stripe"
    yield from _render_shared(*portal, webhook)
    yield ""
    yield 'Replace "plans" in cdk.json\'s "context" with (each paid plan\'s stripe_price_id filled in):'
    yield PLANS_BLOCK_PREFIX + json.dumps(block, indent=2)


def _render_price(result: CatalogResult, spec: CatalogSpec) -> Iterable[str]:
    yield f"product  {result.product_id}  {result.changes['product'].value}"
    yield f"meter    {result.meter_id}  {result.changes['meter'].value}  (event_name {spec.meter_event_name})"
    yield f"price    {result.price_id}  {result.changes['price'].value}  (lookup_key {spec.lookup_key})"
    if result.changes["price"] is Change.REPLACED:
        yield "         the old price keeps billing existing subscriptions; new sign-ups use the new one after deploy"


def _render_shared(portal_id: str, portal_change: Change, webhook: WebhookEndpoint | None) -> Iterable[str]:
    yield (
        f"portal   {portal_id}  {portal_change.value}  "
        "(customer portal: invoice history, payment method update, cancel at period end)"
    )
    if webhook:
        yield f"webhook  {webhook.id}  {webhook.change.value}"
        if webhook.signing_secret:
            yield from _secret_instructions(webhook.signing_secret)
        else:
            yield "         its signing secret was shown when it was created (roll it in the Stripe dashboard if lost)"


def _secret_instructions(secret: str) -> Iterable[str]:
    field_name = contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET
    yield f"         signing secret (shown ONCE, store it now): {secret}"
    yield f'         put it in the stack\'s secret under "{field_name}" (SecretArn is a stack output):'
    yield '           aws secretsmanager get-secret-value --secret-id "$SECRET_ARN" --query SecretString --output text \\'
    yield f"             | jq --arg s '{secret}' '.{field_name} = $s' \\"
    yield '             | aws secretsmanager put-secret-value --secret-id "$SECRET_ARN" --secret-string file:///dev/stdin'


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    context = load_cdk_json_context(CDK_JSON)
    if (args.usage_reporter or context.get("usage_reporter", "tollgate")).lower() == "moesif":
        parser.error(MOESIF_REFUSAL)
    try:
        request = plans_request(args, context) if args.plans or args.plans_file else catalog_spec(args)
        api_key = read_api_key(dict(os.environ) if environ is None else environ)
    except SetupError as error:
        parser.error(str(error))
    setup = CatalogSetup(stripe_client(api_key, api_base=args.api_base))
    try:
        if isinstance(request, PlansRequest):
            lines = list(setup_plans(setup, request, args.webhook_url))
        else:
            lines = list(render(setup.ensure(request, args.webhook_url), request))
    except stripe.APIConnectionError:
        print(
            f"Could not reach Stripe at {args.api_base or 'api.stripe.com'}; check the network and retry "
            "(re-running is safe).",
            file=sys.stderr,
        )
        return 1
    except stripe.StripeError as error:
        print(f"Stripe refused: {error.user_message or error}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
