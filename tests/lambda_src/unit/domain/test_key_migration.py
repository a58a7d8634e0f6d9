"""The import of keys from before issue 20 (tollgate.domain.key_migration) on fakes: what `make migrate-keys`
does to a row, including a key the customer rotated between the deploy and the import (on moto, with
the command itself: tests/ops/test_migrate_keys.py)."""

from __future__ import annotations

import pytest

from testkit.world import World
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import KeyChangeRefused
from tollgate.domain.key_migration import DONE, IMPORTED, KeyMigration

ADA = "ada@example.com"


def before_issue_20(fakes: World) -> tuple[Account, str]:
    """An active row as Tollgate wrote them before: its one key an API Gateway key, held by the customer."""
    key = fakes.api_keys.create_key("tollgate-old", "")
    fakes.api_keys.attach_to_plan(key.id, fakes.plans.get("standard").usage_plan_id)
    fakes.accounts.create(
        Account(
            email=ADA, status=AccountStatus.ACTIVE, api_key_id=key.id, plan_id="standard", created_at=int(fakes.clock())
        )
    )
    return fakes.accounts.get(ADA), key.value


def migration(fakes: World) -> KeyMigration:
    return KeyMigration(fakes.accounts, fakes.api_keys, fakes.key_items, fakes.access, fakes.clock)


def test_the_key_the_customer_holds_calls_once_imported_and_a_second_run_is_done():
    fakes = World.create()
    row, value = before_issue_20(fakes)
    assert not fakes.can_call(value)  # the authorizer finds no item: the gap between deploy and import

    assert migration(fakes).migrate(row, apply=True).outcome == IMPORTED

    assert fakes.can_call(value)
    assert migration(fakes).migrate(fakes.accounts.get(ADA), apply=True).outcome == DONE


def test_rotation_waits_for_the_import_then_works():
    fakes = World.create()
    row, value = before_issue_20(fakes)
    with pytest.raises(KeyChangeRefused, match="being upgraded"):
        fakes.account_keys.rotate(row)  # its new key would have no usage key to name

    migration(fakes).migrate(fakes.accounts.get(ADA), apply=True)
    rotated = fakes.account_keys.rotate(fakes.accounts.get(ADA))

    assert fakes.can_call(rotated.value) and fakes.can_call(value)  # the imported one within its grace
