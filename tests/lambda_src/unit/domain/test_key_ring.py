"""The account's key records as a value object: rotation, ending, and pruning what the keys table forgot."""

from __future__ import annotations

from tollgate import contract
from tollgate.domain.key_ring import KeyRecord, KeyRing, KeyState

RETENTION = contract.ENDED_KEY_RETENTION_SECONDS


def test_a_rotation_makes_the_new_key_current_and_the_old_one_rotate_out_until_its_grace_end():
    ring = KeyRing((KeyRecord("a", 100),))

    rotated = ring.rotated(KeyRecord("b", 200), grace_until=300, now=200)

    assert rotated.current.id == "b" and rotated.existing_ids == ("b", "a")
    assert rotated.key("a").state is KeyState.ROTATING_OUT and rotated.key("a").until == 300
    assert rotated.key("a").callable_at(299) and not rotated.key("a").callable_at(300)


def test_an_ended_key_is_kept_as_long_as_its_item_then_pruned():
    ring = KeyRing((KeyRecord("a", 100), KeyRecord("b", 200))).ended("a", KeyState.REVOKED, at=1_000)

    assert ring.key("a").state is KeyState.REVOKED and ring.existing_ids == ("b",)
    assert ring.pruned(1_000 + RETENTION - 1).key("a") is not None  # its item still lists it on the account page
    later = ring.rotated(KeyRecord("c", 1_000 + RETENTION), grace_until=1_000 + RETENTION + 60, now=1_000 + RETENTION)
    assert [record.id for record in later.records] == ["b", "c"]


def test_keys_that_can_call_are_never_pruned_however_old():
    ring = KeyRing((KeyRecord("a", 0), KeyRecord("b", 0, KeyState.ROTATING_OUT, until=10)))

    assert ring.pruned(10 * RETENTION) == ring


def test_retiring_all_ends_every_key_that_could_call_and_keeps_older_ends():
    ring = KeyRing((KeyRecord("a", 0, KeyState.REVOKED, until=50), KeyRecord("b", 60)))

    retired = ring.all_retired(at=100)

    assert [(record.id, record.state, record.until) for record in retired.records] == [
        ("a", KeyState.REVOKED, 50),
        ("b", KeyState.RETIRED, 100),
    ]
    assert retired.target == "a:revoked:50,b:retired:100"
