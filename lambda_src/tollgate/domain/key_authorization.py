"""What the authorizer decides for a presented key, as pure functions: tested without AWS, and small
enough that the authorizer (tollgate.handlers.authorizer) imports nothing but this, the key format,
the contract and boto3.

1. `worth_a_read`: refuse offline what cannot be a key, so junk costs no table read: a Tollgate key
   (`<prefix>_<live|test>_...` whose checksum matches, whatever the prefix: a deployment that changes
   its `key_prefix` keeps honouring the keys it issued before) or a legacy API Gateway key value
   (20 to 128 letters and digits, what API Gateway accepts as a key value), which only resolves if
   `make migrate-keys` imported it.
2. `decide`: on the keys-table item found under the key's SHA-256 (or None), a `Grant` or a `Denial`.
   A key calls while it is `active`, or `rotating_out` before its `not_after`, and only while the
   account it belongs to is `active` (the status and plan are copies of the row's, kept in step by
   the row's writers: tollgate.contract KEYS_ATTR_*). Revoked and retired keys, keys of suspended,
   canceled, pending or failed accounts, and items missing what a grant needs, are denied.
   A grant carries the account's usage limit while it is in force (`now` before its end, also a copy
   of the row's: tollgate.domain.usage_limit): the authorizer then answers the "limit reached"
   gateway key, so the stage answers its 429 QUOTA_EXCEEDED, not a 403.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tollgate import contract
from tollgate.domain import api_key_format

# API Gateway's own key values (CreateApiKey: "at least 20 characters"; it generates 40 letters and digits).
LEGACY_KEY = re.compile(r"[A-Za-z0-9]{20,128}")
CALLING_STATES = (contract.KEY_STATE_ACTIVE, contract.KEY_STATE_ROTATING_OUT)


@dataclass(frozen=True)
class Grant:
    """What an allowed call carries: whose it is (never the email), on which plan, which key (its hint),
    and the account's API Gateway key value, which the usage plan throttles and counts."""

    account_id: str
    plan: str
    key_hint: str
    usage_key: str
    usage_limit: str | None = None  # a usage limit in force (contract.USAGE_LIMIT_*) ...
    usage_limit_until: int | None = None  # ... until then (epoch seconds)


def worth_a_read(presented: str) -> bool:
    """The presented value could be a key: a well-formed Tollgate key or a legacy key value."""
    if LEGACY_KEY.fullmatch(presented):
        return True
    prefix = presented.split("_", 1)[0]
    try:
        api_key_format.check_prefix(prefix)
    except ValueError:
        return False
    return api_key_format.well_formed(presented, prefix)


@dataclass(frozen=True)
class Denial:
    """Why a call is refused, for the authorizer's log line (the caller sees the stage's one 403)."""

    reason: str


def refusal(state: Any, not_after: Any, account_status: Any, now: float) -> Denial | None:
    """Why a key in `state` (grace ending at `not_after`) of an account in `account_status` may not call
    at `now`, or None when it may: the rule itself (the tests' stand-ins for the stage judge by it too)."""
    if state not in CALLING_STATES:
        return Denial(f"key {state}")
    if state == contract.KEY_STATE_ROTATING_OUT and not now < _number(not_after):
        return Denial("key past its rotation grace")
    if account_status not in contract.KEY_CALLABLE_ACCOUNT_STATUSES:
        return Denial(f"account {account_status}")
    return None


def decide(item: Mapping[str, Any] | None, now: float) -> Grant | Denial:
    """The grant for a call with the key whose item is `item` (plain values: str, int), at `now`."""
    if item is None:
        return Denial("no such key")
    refused = refusal(
        item.get(contract.KEYS_ATTR_STATE),
        item.get(contract.KEYS_ATTR_NOT_AFTER),
        item.get(contract.KEYS_ATTR_ACCOUNT_STATUS),
        now,
    )
    if refused is not None:
        return refused
    fields = (
        contract.KEYS_ATTR_ACCOUNT_ID,
        contract.KEYS_ATTR_PLAN,
        contract.KEYS_ATTR_HINT,
        contract.KEYS_ATTR_USAGE_KEY,
    )
    present = {name: value for name in fields if isinstance(value := item.get(name), str) and value}
    missing = [name for name in fields if name not in present]
    if missing:
        return Denial(f"key item lacks {', '.join(missing)}")  # never allowed without what a grant needs
    account_id, plan, key_hint, usage_key = (present[name] for name in fields)
    limit, until = item.get(contract.KEYS_ATTR_USAGE_LIMIT), _number(item.get(contract.KEYS_ATTR_USAGE_LIMIT_UNTIL))
    if isinstance(limit, str) and limit and now < until:  # in force: until its period ends
        return Grant(account_id, plan, key_hint, usage_key, usage_limit=limit, usage_limit_until=int(until))
    return Grant(account_id, plan, key_hint, usage_key)


def _number(value: Any) -> float:
    """A number attribute, or 0 when it is missing or not one (a grace without an end is over)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
