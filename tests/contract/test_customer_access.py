"""The CustomerAccess port (tollgate.domain.ports.customer_access): FakeCustomerAccess and
DynamoCustomerAccess on moto answer alike.

What sign-up confirmation, sign-in and key retirement rely on: a link is used once (one winner among
concurrent uses), an expired record is still returned until its TTL removes it (the reader checks the
expiry), the email count stops at its limit per address and window, a session is found by its hash and
listed by its owner, closing twice is not an error, retirement reminders come due earliest first, and
the links to an address are dropped all at once (an operator's clean-up)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from testkit.fake_access import FakeCustomerAccess
from tollgate.adapters.dynamo_customer_access import DynamoCustomerAccess
from tollgate.domain.customer_access import EmailLink, KeyRetirement, LinkPurpose, Session
from tollgate.domain.models import Registrant
from tollgate.domain.ports.customer_access import CustomerAccess

LATER = 2_000_000_000


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def access(request) -> Iterator[CustomerAccess]:
    if request.param == "fake":
        yield FakeCustomerAccess()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoCustomerAccess(request.getfixturevalue("aws_clients").client("dynamodb"), aws.access_table)


def token_hash() -> str:
    return uuid.uuid4().hex * 2


def email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.parametrize(
    "registrant",
    [None, Registrant("ada@example.com", "Ada", "Lovelace"), Registrant("ada@example.com", "Ada", "Lovelace", "pro")],
    ids=["sign-in", "sign-up", "sign-up-with-plan"],
)
def test_a_link_round_trips_and_an_unknown_one_is_none(access, registrant):
    purpose = LinkPurpose.SIGN_UP if registrant else LinkPurpose.SIGN_IN
    link = EmailLink(token_hash(), purpose, "ada@example.com", LATER, registrant)

    access.put_link(link)

    assert access.get_link(link.token_hash) == link
    assert access.get_link(token_hash()) is None


def test_a_link_is_used_once_then_gone(access):
    link = EmailLink(token_hash(), LinkPurpose.SIGN_IN, email(), LATER)
    access.put_link(link)

    assert [access.use_link(link.token_hash), access.use_link(link.token_hash)] == [True, False]
    assert access.get_link(link.token_hash) is None
    assert access.use_link(token_hash()) is False  # a link never stored: nobody wins it


def test_every_unused_link_to_an_address_is_dropped_and_no_other(access):
    """What `make smoke` cleans up: the sign-up link /register emailed, whose token nobody holds."""
    address, other = email(), email()
    mine = [EmailLink(token_hash(), purpose, address, LATER) for purpose in LinkPurpose]
    theirs = EmailLink(token_hash(), LinkPurpose.SIGN_IN, other, LATER)
    for link in (*mine, theirs):
        access.put_link(link)
    access.put_session(Session(token_hash(), address, 1, LATER))

    assert access.drop_links_to(address) == len(mine)
    assert [access.get_link(link.token_hash) for link in mine] == [None] * len(mine)
    assert access.get_link(theirs.token_hash) == theirs
    assert len(access.sessions_of(address)) == 1  # sessions are not links
    assert access.drop_links_to(address) == 0


def test_only_one_of_many_concurrent_uses_of_a_link_wins(access):
    link = EmailLink(token_hash(), LinkPurpose.SIGN_IN, email(), LATER)
    access.put_link(link)

    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(access.use_link(link.token_hash))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * 7 + [True]


def test_expired_links_and_sessions_are_still_answered_until_their_ttl_removes_them(access):
    """DynamoDB's TTL removes expired items within days, not at once: the reader checks the expiry."""
    link = EmailLink(token_hash(), LinkPurpose.SIGN_IN, email(), expires_at=1)
    session = Session(token_hash(), link.email, created_at=0, expires_at=1)
    access.put_link(link)
    access.put_session(session)

    assert access.get_link(link.token_hash) == link
    assert access.get_session(session.token_hash) == session


def test_the_email_count_stops_at_the_limit_per_address_and_window(access):
    address = uuid.uuid4().hex

    assert [access.count_email(address, 3_600, 3, 7_200) for _ in range(4)] == [True, True, True, False]
    assert access.count_email(address, 7_200, 3, 10_800)  # the next window starts again
    assert access.count_email(uuid.uuid4().hex, 3_600, 3, 7_200)  # another address has its own count


def test_sessions_are_found_by_hash_listed_by_owner_and_closed_once_or_twice(access):
    owner = email()
    sessions = [Session(token_hash(), owner, 1, LATER) for _ in range(3)]
    for session in (*sessions, Session(token_hash(), email(), 1, LATER)):
        access.put_session(session)

    assert access.get_session(sessions[0].token_hash) == sessions[0]
    assert sorted(access.sessions_of(owner)) == sorted(session.token_hash for session in sessions)
    access.delete_session(sessions[0].token_hash)
    access.delete_session(sessions[0].token_hash)  # closing a closed session is not an error
    access.delete_session(token_hash())  # nor one that never was
    assert access.get_session(sessions[0].token_hash) is None
    assert sorted(access.sessions_of(owner)) == sorted(session.token_hash for session in sessions[1:])
    assert access.sessions_of(email()) == []


def test_retirement_reminders_come_due_earliest_first_and_are_forgotten(access):
    owner = email()
    later, sooner, future = (KeyRetirement(f"key-{uuid.uuid4().hex[:8]}", owner, at) for at in (5_000, 4_000, 9_000))
    for reminder in (later, sooner, future):
        access.remind_retirement(reminder)

    assert [r for r in access.due_retirements(6_000) if r.email == owner] == [sooner, later]
    access.forget_retirement(sooner.key_id)
    access.forget_retirement(sooner.key_id)  # forgetting twice is not an error
    assert [r for r in access.due_retirements(10_000) if r.email == owner] == [later, future]


def test_a_reminder_for_the_same_key_replaces_the_one_before(access):
    owner = email()
    key_id = f"key-{uuid.uuid4().hex[:8]}"
    access.remind_retirement(KeyRetirement(key_id, owner, 4_000))

    access.remind_retirement(KeyRetirement(key_id, owner, 8_000))  # a later grace

    assert [r for r in access.due_retirements(6_000) if r.email == owner] == []
    assert [r for r in access.due_retirements(8_000) if r.email == owner] == [KeyRetirement(key_id, owner, 8_000)]
