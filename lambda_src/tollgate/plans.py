"""The plans a deployment sells, as the functions see them (the stack writes them, tollgate reads them).

A plan is what a customer chooses at sign-up: its API Gateway usage plan (throttle and quota; a key
is in exactly one at a time, API Gateway allowing one usage plan per key per stage), whether its
accounts share a pool of that usage plan's keys (`pool_size`, tollgate.domain.key_pools) and its Stripe
metered price (None: a free plan, with a Stripe customer but no subscription and no meter events).
The first plan is the default: the one of a sign-up that names none. Accounts created before plans
existed record none: they are on LEGACY_PLAN_ID, the plan the flat settings of earlier versions make
(and an operator moving to `plans` keeps, so those accounts stay billed), or the default without it.

The stack passes the catalog to the functions as one JSON environment variable (contract.ENV_PLANS,
built by `PlanCatalog.to_json` from infra/settings.py's plans); the dev harness does the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

LEGACY_PLAN_ID = "standard"
MICROS = 1_000_000  # micro-units of a currency in one unit of it: prepaid amounts are integers of these


def micros(amount: str | Decimal) -> int:
    """A decimal amount of a currency ("10.00", "0.001") in micro-units; ValueError when it has more
    precision than a micro-unit or is not a finite number."""
    value = Decimal(amount) * MICROS
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"{amount!r} is not an amount of at most 6 decimal places")
    return int(value)


@dataclass(frozen=True)
class CreditPack:
    """What a prepaid plan's customer can buy: `credit` micro-units of the currency for `price` in its minor
    unit (cents), paid through Stripe Checkout in payment mode (tollgate.domain.credits)."""

    id: str
    credit: int
    price: int


@dataclass(frozen=True)
class PrepaidTerms:
    """A prepaid plan's terms: each billable call takes `unit_price` micro-units of `currency` from the
    account's credit; the packs are how credit is bought."""

    unit_price: int
    currency: str
    packs: tuple[CreditPack, ...]

    def pack(self, pack_id: str) -> CreditPack:
        for pack in self.packs:
            if pack.id == pack_id:
                return pack
        raise UnknownPlan(f"no credit pack {pack_id!r}; choose one of: {', '.join(p.id for p in self.packs)}")


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    usage_plan_id: str
    price_id: str | None  # a Stripe price billed through a meter; None: free
    requires_payment_method: bool  # the key calls only once a card is on file (Checkout first)
    quota_limit: int
    quota_period: str  # DAY, WEEK or MONTH
    # > 0: the plan's accounts share this many API Gateway keys (tollgate.domain.key_pools); 0: each
    # account has a key of its own, made at sign-up (or at the change to this plan).
    pool_size: int = 0
    # Paid plans: the monthly spend cap of a customer who chose none, and the most any may choose, in
    # the price's currency as decimal strings ("50", "12.50"); None: no default, no maximum
    # (tollgate.domain.spend_control.effective_cap).
    spend_cap_default: str | None = None
    spend_cap_max: str | None = None
    prepaid: PrepaidTerms | None = None  # a prepaid plan: calls paid from bought credit, no meter, no subscription

    @property
    def is_free(self) -> bool:
        return self.price_id is None and self.prepaid is None

    @property
    def pooled(self) -> bool:
        return self.pool_size > 0

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> Plan:
        """A plan as `PlanCatalog.to_json` wrote it."""
        prepaid = item.pop("prepaid", None)
        terms = (
            None
            if prepaid is None
            else PrepaidTerms(
                prepaid["unit_price"], prepaid["currency"], tuple(CreditPack(**pack) for pack in prepaid["packs"])
            )
        )
        return cls(**item, prepaid=terms)


class UnknownPlan(ValueError):
    """A plan id that is not in the catalog (the message lists the ones that are)."""


@dataclass(frozen=True)
class PlanCatalog:
    plans: tuple[Plan, ...]

    def __post_init__(self) -> None:
        if not self.plans:
            raise ValueError("a deployment sells at least one plan")
        ids = [plan.id for plan in self.plans]
        if len(set(ids)) != len(ids):
            raise ValueError(f"plan ids must be unique: {ids}")

    def __iter__(self) -> Iterator[Plan]:
        return iter(self.plans)

    @property
    def default(self) -> Plan:
        return self.plans[0]

    def get(self, plan_id: str | None) -> Plan:
        """The plan with this id; None (an account from before plans): LEGACY_PLAN_ID's, else the default."""
        if plan_id is None:
            return next((plan for plan in self.plans if plan.id == LEGACY_PLAN_ID), self.default)
        for plan in self.plans:
            if plan.id == plan_id:
                return plan
        raise UnknownPlan(f"no plan {plan_id!r}; choose one of: {', '.join(p.id for p in self.plans)}")

    def for_price(self, price_id: str) -> Plan | None:
        """The paid plan billed by this Stripe price, if any (the webhook and reconciler follow
        a subscription's price to its plan)."""
        return next((plan for plan in self.plans if plan.price_id == price_id), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(plan.id for plan in self.plans)

    @property
    def usage_plan_ids(self) -> tuple[str, ...]:
        return tuple(plan.usage_plan_id for plan in self.plans)

    @property
    def price_ids(self) -> tuple[str, ...]:
        return tuple(plan.price_id for plan in self.plans if plan.price_id)

    def to_json(self) -> str:
        return json.dumps([asdict(plan) for plan in self.plans], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PlanCatalog:
        """Raises ValueError (with what is wrong) for anything but what `to_json` writes."""
        try:
            items = json.loads(text)
            return cls(tuple(Plan.from_dict(item) for item in items))
        except (TypeError, KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"not a plan list as the stack writes it ({error})") from None
