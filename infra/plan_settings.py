"""The `plans` setting: the tiers a deployment sells, validated plan by plan, field by field.

cdk.json context `plans` is a list of objects (the first is the default):

    {"id": "free", "name": "Free", "description": "Try it out", "price_text": "Free, no card",
     "throttle_rate_limit": 1, "throttle_burst_limit": 2, "quota_limit": 1000, "quota_period": "MONTH",
     "stripe_price_id": "", "require_payment_method": false}

`stripe_price_id` empty: a free plan (a Stripe customer, no subscription, no meter events; it cannot
require a card, nothing would be charged to it). Without `plans`, the flat settings of earlier
versions (`throttle_*`, `quota_*`, `stripe_price_id`, `require_payment_method`) make one plan,
LEGACY_PLAN_ID, whose usage plan keeps its CloudFormation logical id (infra/gateway.py): a deployment
that upgrades sees no change. Setting both is refused, since which one counts would be a guess.
A free plan whose price_text states a price per call is refused (infra.price_text); a paid plan's
text is held to its price by `make stripe-setup --plans`, which knows the amount.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from infra.prepaid_settings import PREPAID_FIELD_EXPECTED, PREPAID_FIELDS, read_prepaid
from infra.price_text import PriceTextError, check_free_plan
from tollgate.plans import CreditPack, Plan, PlanCatalog, PrepaidTerms

MAX_PLANS = 10  # each is a usage plan and a few hundred bytes of every function's environment
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
FLAT_PLAN_KEYS = (
    "throttle_rate_limit",
    "throttle_burst_limit",
    "quota_limit",
    "quota_period",
    "stripe_price_id",
    "require_payment_method",
)
SPEND_CAP_KEYS = ("spend_cap_default", "spend_cap_max")  # optional, paid plans only
FLAT_PLAN_KEYS_DOC = (
    "The single-plan settings of earlier versions: without `plans`, they make one plan (`standard`), "
    "exactly as before; with `plans`, synth refuses them."
)
PLAN_FIELDS = ("id", "name", "description", "price_text", *FLAT_PLAN_KEYS, *SPEND_CAP_KEYS, *PREPAID_FIELDS)
# The value shipped in cdk.json: synth accepts it so the stack can be tried out, and docs/plans.md
# says to replace it (`make stripe-setup` prints the real one) before a deploy that bills anyone.
PLACEHOLDER_STRIPE_PRICE_ID = "price_REPLACE_BEFORE_DEPLOY"
_PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]+$")
_TEXT_LIMITS = {"name": 40, "description": 160, "price_text": 80}
_OPTIONAL_TEXT = ("description",)
# What `plans` and each plan field accept, in the words of the validation's messages; docs/settings.md
# (infra/settings_doc.py) shows the same words, so the page and the checks cannot disagree.
PLANS_EXPECTED = f"a list of 1 to {MAX_PLANS} plan objects, the first being the default"
PLAN_FIELD_EXPECTED = {
    "id": "1-32 lowercase letters, digits or '-', starting with a letter or digit (e.g. 'pro')",
    **{
        name: f"text of {0 if name in _OPTIONAL_TEXT else 1} to {limit} characters"
        for name, limit in _TEXT_LIMITS.items()
    },
    "throttle_rate_limit": "a number greater than 0",
    "throttle_burst_limit": "a whole number greater than 0",
    "quota_limit": "a whole number greater than 0",
    "quota_period": "one of " + ", ".join(QUOTA_PERIODS),
    "stripe_price_id": (
        "a Stripe price id starting with 'price_' (make stripe-setup prints it), or empty for a free plan"
    ),
    "require_payment_method": "true or false",
    **dict.fromkeys(
        SPEND_CAP_KEYS,
        'an amount greater than 0 in the price\'s currency as a string (e.g. "50" or '
        '"12.50"), or empty; only on a paid plan, and the default at most the maximum',
    ),
    **PREPAID_FIELD_EXPECTED,
}


class PlanSettingsError(ValueError):
    """A plan is malformed; the message names the plan and the field."""


@dataclass(frozen=True)
class PlanSettings:
    """One plan as cdk.json's `plans` gives it; each field's `doc` is its line in docs/settings.md."""

    id: str = field(
        metadata={
            "doc": "What `POST /register` and the account page name the plan by; also part of its usage plan's name."
        }
    )
    name: str = field(
        metadata={"doc": "The plan's name on the pages and, with `make stripe-setup --plans`, on the invoice line."}
    )
    description: str = field(metadata={"doc": "One sentence the sign-up page shows under the name."})
    price_text: str = field(
        metadata={
            "doc": (
                "The price as the pages show it, e.g. `$0.001 per call, billed monthly`. A free plan's may state no price per "
                "call (synth refuses it); `make stripe-setup --plans` refuses a paid plan's that contradicts the price it "
                "creates (`infra/price_text.py`)."
            )
        }
    )
    throttle_rate_limit: float = field(
        metadata={"doc": "Steady requests per second one key may send (the usage plan's throttle)."}
    )
    throttle_burst_limit: int = field(metadata={"doc": "Burst of requests one key may send above the rate."})
    quota_limit: int = field(
        metadata={
            "doc": "Calls a key may make per quota period; past it API Gateway answers 429 ([Plans](plans.md#quota))."
        }
    )
    quota_period: str = field(metadata={"doc": "The period the quota counts over."})
    stripe_price_id: str | None = field(
        metadata={
            "doc": (  # None: free
                "The plan's metered Stripe price, with a meter of its own; empty: a free plan (a Stripe customer, no "
                "subscription, no meter events). Synth warns while it is the placeholder `price_REPLACE_BEFORE_DEPLOY`."
            )
        }
    )
    require_payment_method: bool = field(
        metadata={
            "doc": (
                "`true`: the key works only once Stripe Checkout has saved a card "
                "([Billing lifecycle](billing-lifecycle.md#payment-method)); a free plan cannot require one."
            )
        }
    )
    spend_cap_default: str | None = field(
        default=None,
        metadata={
            "doc": (
                'The monthly spend cap of a customer who chose none, in the price\'s currency (e.g. `"50"`); empty: none. '
                "At the cap the account's calls stop with `spend_cap_reached` until the period ends or the customer raises it "
                "([Usage alerts and spend caps](spend-control.md))."
            )
        },
    )
    spend_cap_max: str | None = field(
        default=None,
        metadata={
            "doc": (
                "The highest cap a customer of the plan may choose, in the price's currency; empty: no maximum, and a customer "
                "may remove the cap. With a maximum, every account of the plan is capped at it at most."
            )
        },
    )
    billing: str = field(
        default="metered",
        metadata={
            "doc": (
                "`prepaid`: calls are paid from credit the customer buys in packs through Stripe Checkout, and stop at zero "
                "([Prepaid credits](prepaid-credits.md)); `metered`: a paid plan's calls go to its Stripe meter (a free "
                "plan's nowhere)."
            )
        },
    )
    unit_price: int | None = field(
        default=None, metadata={"doc": ("Prepaid plans: what one billable call takes from the credit.")}
    )  # micro-units
    currency: str = field(default="usd", metadata={"doc": "Prepaid plans: the currency of the credit and the packs."})
    credit_packs: tuple[CreditPack, ...] = field(
        default=(),
        metadata={"doc": ("Prepaid plans: the packs the account page sells (`id`, `credit` added, `price` charged).")},
    )

    @property
    def prepaid(self) -> PrepaidTerms | None:
        if self.billing != "prepaid" or self.unit_price is None:
            return None
        return PrepaidTerms(self.unit_price, self.currency, self.credit_packs)

    @property
    def is_free(self) -> bool:
        return self.stripe_price_id is None and self.prepaid is None

    @property
    def price_is_placeholder(self) -> bool:
        return self.stripe_price_id == PLACEHOLDER_STRIPE_PRICE_ID

    def page_view(self) -> dict[str, Any]:
        """What the signup page shows of the plan (config.json): nothing a customer need not see."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "priceText": self.price_text,
            "free": self.is_free,
            "requiresPaymentMethod": self.require_payment_method,
            "rateLimit": self.throttle_rate_limit,
            "burstLimit": self.throttle_burst_limit,
            "quotaLimit": self.quota_limit,
            "quotaPeriod": self.quota_period,
            **(
                {
                    "prepaid": {
                        "unitPrice": self.prepaid.unit_price,
                        "currency": self.prepaid.currency,
                        "packs": [
                            {"id": pack.id, "credit": pack.credit, "price": pack.price} for pack in self.prepaid.packs
                        ],
                    }
                }
                if self.prepaid
                else {}
            ),
        }


def read_plans(context: Mapping[str, Any], read_flat: Callable[[], PlanSettings]) -> tuple[PlanSettings, ...]:
    """The `plans` list, or the one plan `read_flat` builds from the flat settings when it is unset."""
    raw = context.get("plans")
    if raw is None or raw == "" or raw == []:
        return (read_flat(),)
    flat = [key for key in FLAT_PLAN_KEYS if context.get(key) not in (None, "")]
    if flat:
        raise PlanSettingsError(
            f"cdk.json context 'plans' is set, so {', '.join(repr(k) for k in flat)} would not be read: remove "
            "them (each plan has its own throttle, quota, price and card rule)"
        )
    if isinstance(raw, str):  # -c plans='[...]'
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise PlanSettingsError(f"cdk.json context 'plans' is not valid JSON: {error}") from None
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PLANS:
        raise PlanSettingsError(f"cdk.json context 'plans' must be {PLANS_EXPECTED}; got {raw!r}")
    plans = tuple(_read_plan(index, item) for index, item in enumerate(raw))
    _check_unique(plans, "id", [plan.id for plan in plans])
    _check_unique(plans, "stripe_price_id", [plan.stripe_price_id for plan in plans if plan.stripe_price_id])
    return plans


def _check_unique(plans: tuple[PlanSettings, ...], field: str, values: list[str]) -> None:
    for value in values:
        if values.count(value) > 1:
            raise PlanSettingsError(
                f"cdk.json context 'plans': two plans have {field} {value!r}; each needs its own "
                "(a subscription's price says which plan its key belongs to)"
            )


def _read_plan(index: int, item: Any) -> PlanSettings:  # noqa: C901 - one check per plan key, each naming its field
    where = f"cdk.json context 'plans' item {index + 1}"
    if not isinstance(item, dict):
        raise PlanSettingsError(f"{where} must be an object with {', '.join(PLAN_FIELDS)}; got {item!r}")
    if isinstance(item.get("id"), str):
        where += f" (id {item['id']!r})"
    unknown = sorted(set(item) - set(PLAN_FIELDS))
    if unknown:
        raise PlanSettingsError(f"{where}: unknown field {unknown[0]!r}; a plan has {', '.join(PLAN_FIELDS)}")

    def fail(field: str, expected: str | None = None) -> PlanSettingsError:
        return PlanSettingsError(
            f"{where} field '{field}' must be {expected or PLAN_FIELD_EXPECTED[field]}; got {item.get(field)!r}"
        )

    def text(field: str) -> str:
        value = item.get(field, "")
        limit, required = _TEXT_LIMITS[field], field not in _OPTIONAL_TEXT
        if not isinstance(value, str) or len(value.strip()) > limit or (required and not value.strip()):
            raise fail(field)
        return value.strip()

    def number(field: str, whole: bool) -> float:
        value = item.get(field)
        ok = isinstance(value, int) if whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not isinstance(value, (int, float)) or value <= 0:
            raise fail(field)
        return value

    plan_id = item.get("id")
    if not isinstance(plan_id, str) or not _PLAN_ID.match(plan_id):
        raise fail("id")
    period = item.get("quota_period")
    if not isinstance(period, str) or period.upper() not in QUOTA_PERIODS:
        raise fail("quota_period")
    price = item.get("stripe_price_id") or None
    if price is not None and (not isinstance(price, str) or not _PRICE_ID.match(price)):
        raise fail("stripe_price_id")
    card = item.get("require_payment_method", False)
    if not isinstance(card, bool):
        raise fail("require_payment_method")
    prepaid = read_prepaid(item, fail, price)
    if card and price is None and prepaid is None:
        raise fail(
            "require_payment_method", "false for a free plan (no stripe_price_id): nothing is charged to the card"
        )
    if price is None and prepaid is None:
        try:
            check_free_plan(plan_id, text("price_text"))
        except PriceTextError as error:
            raise PlanSettingsError(f"cdk.json context 'plans': {error}") from None
    caps = {name: _spend_cap(item, name, price is None, fail) for name in SPEND_CAP_KEYS}
    default, maximum = caps["spend_cap_default"], caps["spend_cap_max"]
    if default is not None and maximum is not None and Decimal(default) > Decimal(maximum):
        raise fail("spend_cap_default", f"at most spend_cap_max ({maximum})")
    return PlanSettings(
        id=plan_id,
        name=text("name"),
        description=text("description"),
        price_text=text("price_text"),
        throttle_rate_limit=float(number("throttle_rate_limit", whole=False)),
        throttle_burst_limit=int(number("throttle_burst_limit", whole=True)),
        quota_limit=int(number("quota_limit", whole=True)),
        quota_period=period.upper(),
        stripe_price_id=price,
        require_payment_method=card,
        spend_cap_default=default,
        spend_cap_max=maximum,
        billing="prepaid" if prepaid else "metered",
        unit_price=prepaid.unit_price if prepaid else None,
        currency=prepaid.currency if prepaid else "usd",
        credit_packs=prepaid.packs if prepaid else (),
    )


def _spend_cap(item: Mapping[str, Any], name: str, free: bool, fail: Callable[..., PlanSettingsError]) -> str | None:
    """A plan's spend cap setting as the decimal string the functions read (tollgate.plans.Plan)."""
    raw = item.get(name)
    if raw is None or raw == "":
        return None
    if free:
        raise fail(name, "empty on a free plan (no stripe_price_id): nothing is charged, so nothing is capped")
    try:
        amount = Decimal(raw) if isinstance(raw, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise fail(name)
    return format(amount, "f")


def runtime_catalog(
    plans: tuple[PlanSettings, ...], usage_plan_ids: Mapping[str, str], free_pool_size: int
) -> PlanCatalog:
    """The plans as the functions read them (contract.ENV_PLANS), with each plan's usage plan id
    (a CloudFormation reference in the stack, moto's id in `make dev`) and pool size (`free_pool_size`
    for a free plan; a paid plan's accounts have keys of their own)."""
    return PlanCatalog(
        tuple(
            Plan(
                id=plan.id,
                name=plan.name,
                usage_plan_id=usage_plan_ids[plan.id],
                price_id=plan.stripe_price_id,
                requires_payment_method=plan.require_payment_method,
                quota_limit=plan.quota_limit,
                quota_period=plan.quota_period,
                spend_cap_default=plan.spend_cap_default,
                spend_cap_max=plan.spend_cap_max,
                prepaid=plan.prepaid,
                pool_size=free_pool_size if plan.is_free else 0,
            )
            for plan in plans
        )
    )


# A pooled plan's usage plan throttles each SHARD key, which all the accounts of a shard share: its rate
# and burst are the plan's per-account ones times this many accounts calling at full rate at once
# (docs/scaling.md#pooled-keys says why the shard's throttle is enough).
POOLED_THROTTLE_ACCOUNTS = 10


@dataclass(frozen=True)
class UsagePlanLimits:
    """What a plan's API Gateway usage plan is created with (the stack's and `make dev`'s alike)."""

    rate_limit: float
    burst_limit: int
    quota_limit: int | None  # None: no API Gateway quota (a pooled plan: Tollgate counts each account's calls)
    quota_period: str


def usage_plan_limits(plan: PlanSettings, pooled: bool) -> UsagePlanLimits:
    """The plan's own throttle and quota for keys of one account each; for a pooled plan, a shard's
    throttle and no quota (an API Gateway quota on a shared key would be spent by its busiest account)."""
    if not pooled:
        return UsagePlanLimits(plan.throttle_rate_limit, plan.throttle_burst_limit, plan.quota_limit, plan.quota_period)
    return UsagePlanLimits(
        plan.throttle_rate_limit * POOLED_THROTTLE_ACCOUNTS,
        plan.throttle_burst_limit * POOLED_THROTTLE_ACCOUNTS,
        None,
        plan.quota_period,
    )
