"""`make stripe-setup`: create Tollgate's Stripe catalog once, and find it again on every re-run.

The command line only: it parses the options into an ops.catalog_spec.CatalogSpec (which checks
them before any Stripe call), reads the secret key, runs ops.catalog_setup.CatalogSetup and prints
what it found or created, and what to do with the ids.

    make stripe-setup ARGS="--product-name 'Acme API' --meter-event-name acme_api_calls \\
        --pricing-model graduated --currency usd \\
        --tier up_to=1000,unit_amount_decimal=0.5 --tier up_to=inf,unit_amount_decimal=0.2"
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import stripe

from infra.settings import USAGE_REPORTERS, load_cdk_json_context
from ops.catalog_setup import CatalogResult, CatalogSetup, Change
from ops.catalog_spec import DEFAULT_LOOKUP_KEY, INTERVALS, PRICING_MODELS, CatalogSpec, SetupError, Tier
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
    "price that takes usage records (\"Moesif supports Stripe usage records for usage-based billing. Therefore, make "
    "sure you use usage records when defining prices in Stripe.\", "
    "https://www.moesif.com/docs/metered-billing/integrate-with-stripe/), and since API 2025-03-31.basil Stripe no "
    "longer creates a metered price without a meter (https://docs.stripe.com/changelog/basil/2025-03-31/"
    "deprecate-legacy-usage-based-billing). Either set usage_reporter to tollgate (cdk.json, the default) or create "
    "the price Moesif can bill in Moesif's product catalog (or in a Stripe account or API version that still offers "
    "usage records) and set stripe_price_id to it."
)
_API_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")


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
    parser.add_argument("--usage-reporter", choices=USAGE_REPORTERS, type=str.lower,
                        help="who reports usage to Stripe (default: usage_reporter in cdk.json); the meter price is "
                             "refused with moesif, whose integration cannot bill it")
    return parser


def catalog_spec(args: argparse.Namespace) -> CatalogSpec:
    """The spec the command line asks for (see build_parser); SetupError names a bad option."""
    return CatalogSpec(
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
    yield (f"portal   {result.portal_configuration_id}  {result.changes['portal'].value}  "
           "(customer portal: invoice history, payment method update, cancel at period end)")
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
    if (args.usage_reporter or load_cdk_json_context(CDK_JSON).get("usage_reporter", "tollgate")).lower() == "moesif":
        parser.error(MOESIF_REFUSAL)
    try:
        spec = catalog_spec(args)
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
