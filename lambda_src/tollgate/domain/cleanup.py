"""Undoing what a sign-up created: one code path for the register rollback, the takeover of an
abandoned sign-up and the operator's failed-accounts command (ops/failed_accounts.py).

The account row is the ledger: whatever it records is undone, newest first, each undo tried even
when an earlier one fails. What could not be undone is kept on the row, as `failed`, with the
reason. A key that no row records (the email turned out to be taken and deleting the key failed,
or the function died before recording the key id) is found by its name (`orphaned_keys`). A key
item is undone by its hash, which the row records before the item is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tollgate.domain.account import RESERVATION_LEASE_SECONDS, SIGNUP_KEY_NAME_PREFIX, Account
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError
from tollgate.domain.key_pools import POOL_KEY_NAME_PREFIX
from tollgate.domain.models import ListedKey
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.billing import Billing
from tollgate.domain.ports.keys import ApiKeys, KeyItems
from tollgate.plans import PlanCatalog


def customer_reference(account: Account) -> str | None:
    """What a sign-up names its Stripe customer by (its metadata, contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID),
    so a customer whose create had an unknown outcome is found again: the sign-up's own usage key id,
    unique to it; on a pooled plan, whose shard key hundreds of accounts share, its account id."""
    if account.api_key_id:
        return account.api_key_id
    return account.account_id if account.pool_key_id else None


@dataclass(frozen=True, eq=False)
class _Undo:
    description: str
    action: Callable[[], None]
    covered_by: _Undo | None = None  # an undo whose success makes this one unnecessary


@dataclass(frozen=True)
class UndoOutcome:
    """What an undo left: `account` carries every id learnt on the way (a customer found by
    repeating its create), `leftovers` the undos that failed (empty: nothing is left behind)."""

    account: Account
    leftovers: tuple[str, ...]


class Cleanup:
    """Undoes the resources an account row records, and finds keys no row records."""

    def __init__(
        self,
        api_keys: ApiKeys,
        billing: Billing,
        accounts: Accounts,
        plans: PlanCatalog,
        key_items: KeyItems,
        clock: Callable[[], float] = time.time,
    ):
        self._plans = plans
        self._key_items = key_items
        self._api_keys = api_keys
        self._billing = billing
        self._accounts = accounts
        self._clock = clock

    def undo(self, account: Account, *, attached: bool = True) -> UndoOutcome:  # noqa: C901 - one step per held id
        """Undo every resource `account` records, newest first.

        A row with the customer create's idempotency key but no customer id never learned the
        outcome of that create (a timeout or 5xx, or the function died): the create is repeated
        with the same key and arguments, so Stripe answers with the customer it made then (it
        replays a key's result for 24 h) or makes it now; either way it is deleted, and its id is
        in the outcome's account, so a row saved afterwards records it. Stripe also replays a
        saved 500 (https://docs.stripe.com/idempotency): then the customer is looked up by the
        key id its metadata names (Stripe's search) and deleted.

        An undo covered by another only counts as failed if that one fails too: a deleted key
        leaves every usage plan, a deleted customer's subscriptions are cancelled by Stripe. So a
        subscription whose create had an unknown outcome needs no undo of its own: the customer is
        always known by then. `attached=True` (the default, for rows whose progress is unknown)
        also removes the key from the usage plan.
        """
        key_id, customer_id, subscription_id = account.api_key_id, account.customer_id, account.subscription_id
        reference = customer_reference(account)
        learnt = {"account": account}
        undos: list[_Undo] = []  # in creation order
        delete_key = delete_customer = None
        if key_id:
            delete_key = _Undo(f"delete API key {key_id}", lambda: self._api_keys.delete_key(key_id))
            undos.append(delete_key)
        if customer_id:
            delete_customer = _Undo(
                f"delete customer {customer_id}", lambda: self._billing.delete_customer(customer_id)
            )
        elif (idempotency_key := account.customer_idempotency_key) and reference:
            # (A customer is created for the sign-up's reference, once the row records it: a row with the
            # create's idempotency key always has one.)

            def delete_unknown_customer() -> None:
                try:
                    found = [self._billing.create_customer(account.registrant, reference, idempotency_key)]
                except DownstreamError:
                    # Stripe replays a saved 500 for the same key: look the customer up by the key
                    # it was created for instead (a miss is raised again and retried by a later clean).
                    found = self._billing.find_customers_for_key(reference)
                    if not found:
                        raise
                for customer in found:
                    learnt["account"] = learnt["account"].with_customer(customer)
                    self._billing.delete_customer(customer)

            delete_customer = _Undo(
                f"find and delete the customer whose create had an unknown outcome (idempotency key {idempotency_key})",
                delete_unknown_customer,
            )
        if delete_customer:
            undos.append(delete_customer)
        if subscription_id:
            undos.append(
                _Undo(
                    f"cancel subscription {subscription_id}",
                    lambda: self._billing.cancel_subscription(subscription_id),
                    covered_by=delete_customer,
                )
            )
        for record in account.key_records:  # stored last: undone first
            if record.key_hash is not None:
                undos.append(_Undo(f"remove key {record.id}", partial(self._key_items.delete, record.key_hash)))
        if key_id and attached:
            undos.append(
                _Undo(
                    f"detach API key {key_id}",
                    lambda: self._api_keys.detach_from_plan(key_id, self._plans.get(account.plan_id).usage_plan_id),
                    covered_by=delete_key,
                )
            )
        failed: list[tuple[_Undo, str]] = []
        for undo in reversed(undos):
            try:
                undo.action()
            except Exception as error:  # noqa: BLE001 - every undo is tried whatever the previous one did
                failed.append((undo, f"{undo.description} ({error})"))
        failed_undos = [undo for undo, _ in failed]
        leftovers = tuple(
            reason for undo, reason in failed if undo.covered_by is None or undo.covered_by in failed_undos
        )
        return UndoOutcome(learnt["account"], leftovers)

    def keep_failed(self, account: Account, reason: str, *, read: Account) -> Account | None:
        """Save `account` as `failed` with `reason`, only over the row as it was read (`read`: its
        version). Returns the saved row, or None when the row changed meanwhile (another attempt took
        it over and owns its cleanup). DownstreamError when the table cannot be written."""
        try:
            return self._accounts.update(account.failed(reason, int(self._clock())), read)
        except ConcurrentUpdate:
            return None

    def orphaned_keys(self, now: int, lease_seconds: int = RESERVATION_LEASE_SECONDS) -> list[ListedKey]:
        """Keys a sign-up created that no account row records, older than the lease (so no live
        attempt is still about to record them)."""
        return [
            key
            for key in self._api_keys.keys_named(SIGNUP_KEY_NAME_PREFIX)
            if not key.name.startswith(POOL_KEY_NAME_PREFIX)  # shared, recorded by the pool (tollgate.domain.key_pools)
            and key.created_at < now - lease_seconds
            and self._accounts.find_by_api_key_id(key.id) is None
        ]
