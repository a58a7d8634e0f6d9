"""The money invariants of an account, checked on a World (testkit.world) after anything happened to it:
what API Gateway and Stripe hold must be what the row says. Each check returns the problems it
found (empty: the invariant holds), so a test can say which one broke."""

from __future__ import annotations

import hashlib

from testkit.world import World
from tollgate.domain.account import SIGNUP_KEY_NAME_PREFIX, AccountStatus


def keys_follow_the_row(world: World, email: str) -> list[str]:
    """Every key the row says exists is in the gateway; a key that can call is in the row's plan's usage
    plan and the account may call with it (active, the key current or within its grace); every key it
    says ended is gone; the gateway holds no key of this account that the row does not record."""
    row = world.accounts.get(email)
    assert row is not None
    plan = world.plans.get(row.plan_id)
    keys, problems = world.api_keys, []
    for record in row.key_records:
        key = keys.keys.get(record.id)
        if not record.exists:
            if key is not None:
                problems.append(f"{record.id} is {record.state.value} but still in the gateway")
            continue
        if key is None:
            problems.append(f"{record.id} is {record.state.value} but not in the gateway")
            continue
        usage_plan = keys.plan.get(record.id)
        if usage_plan not in (None, plan.usage_plan_id) and key["enabled"]:
            problems.append(f"{record.id} can call on {usage_plan}, another plan's usage plan than {plan.id}'s")
        callable_now = row.status is AccountStatus.ACTIVE and record.callable_at(world.clock())
        if callable_now and not keys.can_call_api(record.id):
            problems.append(f"{record.id} cannot call although the account is active")
        if not callable_now and keys.can_call_api(record.id):
            problems.append(f"{record.id} can call although the account is {row.status.value} (or its grace is over)")
    prefix = SIGNUP_KEY_NAME_PREFIX + hashlib.sha256(email.encode()).hexdigest()[:16]
    recorded = {record.id for record in row.key_records}
    problems += [f"{key_id} is this account's key in the gateway but no record names it"
                 for key_id, key in keys.keys.items() if key["name"].startswith(prefix) and key_id not in recorded]
    return problems


def stripe_bills_the_row(world: World, email: str) -> list[str]:
    """A paid plan's active account has one live subscription billing that plan's price and not set to
    end; a free plan's has none that goes on; no other live subscription of the customer exists."""
    row = world.accounts.get(email)
    assert row is not None
    price = row.price_id or world.plans.get(row.plan_id).price_id
    live = {sid: sub for sid, sub in world.billing.subscriptions.items()
            if sub["customer"] == row.customer_id and sub["status"] != "canceled"}
    problems = [f"{sid} is live but the row records {row.subscription_id}" for sid in live if sid != row.subscription_id]
    if row.status is not AccountStatus.ACTIVE:
        return problems
    recorded = live.get(row.subscription_id or "")
    if price is None:
        if recorded is not None and not recorded["cancel_at_period_end"]:
            problems.append(f"the plan is free but {row.subscription_id} goes on")
    elif recorded is None:
        problems.append(f"the plan is paid but no live subscription is recorded ({row.subscription_id})")
    elif price not in [item_price for item_price, _ in recorded["items"]] or recorded["cancel_at_period_end"]:
        problems.append(f"{row.subscription_id} does not bill {price} from now on")
    return problems
