"""The money invariants of an account, checked on a World (testkit.world) after anything happened to it:
what API Gateway and Stripe hold must be what the row says. Each check returns the problems it
found (empty: the invariant holds), so a test can say which one broke."""

from __future__ import annotations

import hashlib

from testkit.world import World
from tollgate.domain.account import SIGNUP_KEY_NAME_PREFIX, AccountStatus


def keys_follow_the_row(world: World, email: str) -> list[str]:
    """The keys table and API Gateway hold what the row says. Every key the customer holds has its item,
    in its state, carrying the row's status, plan, usage limit in force and usage key (what the
    authorizer decides from); the
    account's usage key is in the gateway, enabled and in the row's plan's usage plan exactly while the
    account is active; the gateway holds no key of this account that the row does not record."""
    row = world.accounts.get(email)
    assert row is not None
    problems = []
    for record in row.key_records:
        if record.key_hash is None:
            continue
        item = world.key_items.get(record.key_hash)
        if item is None:
            problems.append(f"{record.id} is {record.state.value} but has no item")
            continue
        limit = row.active_usage_limit
        wanted = (
            record.state,
            row.status.value,
            row.plan_id or "",
            limit and limit.reason,
            limit and limit.until,
            row.usage_key or "",
        )
        held = (item.state, item.account_status, item.plan, item.usage_limit, item.usage_limit_until, item.usage_key)
        if held != wanted:
            problems.append(f"{record.id}'s item says {held[:5]}, the row {wanted[:5]} (or another usage key)")
    keys = world.api_keys
    if row.api_key_id and row.usage_key is not None:
        plan = world.plans.get(row.plan_id)
        counted = keys.can_call_api(row.api_key_id) and keys.plan.get(row.api_key_id) == plan.usage_plan_id
        if row.status is AccountStatus.ACTIVE and not counted:
            problems.append(f"usage key {row.api_key_id} is not counted on {plan.id} although the account is active")
        if row.status is not AccountStatus.ACTIVE and keys.can_call_api(row.api_key_id):
            problems.append(
                f"usage key {row.api_key_id} is enabled in a plan although the account is {row.status.value}"
            )
    prefix = SIGNUP_KEY_NAME_PREFIX + hashlib.sha256(email.encode()).hexdigest()[:16]
    problems += [
        f"{key_id} is this account's key in the gateway but no record names it"
        for key_id, key in keys.keys.items()
        if key["name"].startswith(prefix) and not row.owns_gateway_key(key_id)
    ]
    return problems


def stripe_bills_the_row(world: World, email: str) -> list[str]:
    """A paid plan's active account has one live subscription billing that plan's price and not set to
    end; a free plan's has none that goes on; no other live subscription of the customer exists."""
    row = world.accounts.get(email)
    assert row is not None
    price = row.price_id or world.plans.get(row.plan_id).price_id
    live = {
        sid: sub
        for sid, sub in world.billing.subscriptions.items()
        if sub["customer"] == row.customer_id and sub["status"] != "canceled"
    }
    problems = [
        f"{sid} is live but the row records {row.subscription_id}" for sid in live if sid != row.subscription_id
    ]
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
