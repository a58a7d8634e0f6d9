"""The keys table's items: one per Tollgate key a customer holds, stored only as its SHA-256.

The authorizer resolves a presented key with ONE read (hash -> item), so an item carries, besides
the key's own state, a copy of what the account row says about calling: its status, its plan and its
usage key (the VALUE of the account's one API Gateway key, which API Gateway needs as
`usageIdentifierKey`), and its usage limit in force (tollgate.domain.usage_limit). Every writer
that changes those on the row copies them onto the account's key items afterwards
(tollgate.domain.key_enforcement), each copy stamped with the row version it came from
(`account_version`): the table refuses a copy older than the one it holds, so a slow writer never
overwrites a newer one. The item is derived from the row alone (`KeyItem.of`), so
writing it again is always harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tollgate import contract
from tollgate.domain.account import Account
from tollgate.domain.api_key_format import key_hash, key_hint, new_key
from tollgate.domain.key_ring import KeyRecord, KeyState
from tollgate.domain.models import IssuedKey


def key_id_of(key_hash: str) -> str:
    """The public name of a key (the account page, revoke calls): the start of its hash."""
    return key_hash[: contract.KEY_ID_LENGTH]


@dataclass(frozen=True)
class KeyItem:
    """One item of the keys table (attribute names: contract.KEYS_*)."""

    key_hash: str
    hint: str
    account: str  # the accounts-table key (the normalised email) of the owning row
    account_id: str  # the opaque id the authorizer answers as principalId
    state: KeyState
    created_at: int
    account_status: str
    plan: str
    usage_key: str = field(repr=False)  # the account's API Gateway key value: never logged
    account_version: int = 0
    not_after: int | None = None  # rotating_out: the grace end
    expires_at: int | None = None  # ended keys: DynamoDB's TTL removes the item then
    usage_limit: str | None = None  # the row's usage limit in force (contract.USAGE_LIMIT_*), if any ...
    usage_limit_until: int | None = None  # ... and when it lifts

    @property
    def key_id(self) -> str:
        return key_id_of(self.key_hash)

    @classmethod
    def of(cls, account: Account, record: KeyRecord) -> KeyItem:
        """What the item of `record` (a key of `account` with a hash) must hold, as `account` is
        stored (its `version`)."""
        assert record.key_hash is not None, "only keys issued or imported by Tollgate have items"
        ended = record.state in (KeyState.REVOKED, KeyState.RETIRED)
        return cls(
            key_hash=record.key_hash,
            hint=record.hint,
            account=account.email,
            account_id=account.account_id or "",
            state=record.state,
            created_at=record.created_at,
            account_status=account.status.value,
            plan=account.plan_id or "",
            usage_key=account.usage_key or "",
            account_version=account.version,
            not_after=record.until if record.state is KeyState.ROTATING_OUT else None,
            expires_at=(record.until or 0) + contract.ENDED_KEY_RETENTION_SECONDS if ended else None,
            usage_limit=limit.reason if (limit := account.active_usage_limit) else None,
            usage_limit_until=limit.until if limit else None,
        )


@dataclass(frozen=True)
class KeyIssuer:
    """Makes the keys customers hold (tollgate.domain.api_key_format): `prefix` is the setting
    `key_prefix`; `mode` says `test` while the deployment bills with a Stripe test key, else `live`
    (asked at each issue: the Stripe secret is read lazily)."""

    prefix: str = contract.DEFAULT_KEY_PREFIX
    mode: Callable[[], str] = lambda: "live"

    def issue(self, at: int) -> tuple[IssuedKey, KeyRecord]:
        """A new key (its value: the only copy, for the customer) and its record (hash and hint only)."""
        value = new_key(self.prefix, self.mode())
        digest = key_hash(value)
        return IssuedKey(key_id_of(digest), value), KeyRecord(
            key_id_of(digest), at, hint=key_hint(value), key_hash=digest
        )


def stripe_key_mode(stripe_secret_key: str) -> str:
    """`test` for a Stripe test key (secret or restricted), else `live`
    (https://docs.stripe.com/keys: test keys start sk_test_ / rk_test_)."""
    return "test" if stripe_secret_key.startswith(("sk_test_", "rk_test_")) else "live"
