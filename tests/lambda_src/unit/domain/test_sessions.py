"""Signing in by emailed link and the sessions that follow, on fakes: no enumeration, 12 h, stored
by hash only, revocable (sign out, sign out everywhere)."""

from __future__ import annotations

import pytest

from testkit.world import World
from tollgate import contract
from tollgate.domain.account import AccountStatus
from tollgate.domain.customer_access import token_hash
from tollgate.domain.errors import InvalidLink, SignedOut, TooManyEmails

ADA = "ada@example.com"


@pytest.fixture
def world(world: World) -> World:
    """Ada has signed up."""
    world.signed_up(ADA)
    return world


def test_an_account_holder_gets_a_link_that_opens_a_12_hour_session(world: World) -> None:
    world.sessions.request_sign_in(ADA)
    assert f"/{contract.ACCOUNT_PAGE}#signin=" in world.mailer.sent[-1].text
    token, session = world.sessions.open(world.mailer.last_token(ADA))
    assert len(token) == 43 and session.email == ADA
    assert session.expires_at - session.created_at == contract.SESSION_SECONDS == 12 * 3600
    assert list(world.access.sessions) == [token_hash(token)]  # the token itself is stored nowhere
    assert world.sessions.account(token).email == ADA


def test_an_unknown_address_gets_the_same_answer_and_a_no_account_email(world: World) -> None:
    calls = []
    for email in (ADA, "nobody@example.com"):
        before = len(world.ports.accounts.calls) + len(world.access.calls) + len(world.mailer.calls)
        world.sessions.request_sign_in(email)  # returns None either way
        calls.append(len(world.ports.accounts.calls) + len(world.access.calls) + len(world.mailer.calls) - before)
    assert world.mailer.to("nobody@example.com")[-1].subject == "No account with this email"
    assert "#signin=" not in world.mailer.to("nobody@example.com")[-1].text
    assert calls[1] in (calls[0] - 1, calls[0])  # a link write more for the holder, nothing else


def test_a_session_ends_after_12_hours(world: World) -> None:
    token = world.signed_in(ADA)
    world.clock.advance(contract.SESSION_SECONDS - 1)
    assert world.sessions.account(token).email == ADA
    world.clock.advance(1)
    with pytest.raises(SignedOut):
        world.sessions.account(token)


@pytest.mark.parametrize("cookie", [None, "", "not-a-session", "x" * 43])
def test_no_or_a_made_up_cookie_is_signed_out(world: World, cookie: str | None) -> None:
    with pytest.raises(SignedOut):
        world.sessions.account(cookie)


def test_sign_out_ends_this_session_only_and_everywhere_ends_them_all(world: World) -> None:
    phone, laptop, tablet = (world.signed_in(ADA) for _ in range(3))
    world.sessions.close(phone)
    with pytest.raises(SignedOut):
        world.sessions.account(phone)
    assert world.sessions.account(laptop).email == ADA
    world.sessions.close(laptop, everywhere=True)
    for token in (laptop, tablet):
        with pytest.raises(SignedOut):
            world.sessions.account(token)
    world.sessions.close(laptop)  # twice is not an error


def test_a_sign_in_link_works_once_and_never_as_a_sign_up_link(world: World) -> None:
    world.sessions.request_sign_in(ADA)
    token = world.mailer.last_token(ADA)
    with pytest.raises(InvalidLink):
        world.sign_up.confirm(token)
    world.sessions.open(token)
    with pytest.raises(InvalidLink):
        world.sessions.open(token)


def test_sign_in_links_share_the_addresses_hourly_limit(world: World) -> None:
    with pytest.raises(TooManyEmails):
        for _ in range(5):
            world.sessions.request_sign_in(ADA)


def test_a_failed_or_pending_row_cannot_sign_in(world: World) -> None:
    account = world.ports.accounts.get(ADA)
    token = world.signed_in(ADA)
    world.ports.accounts.rows[ADA] = account.with_status(AccountStatus.FAILED, 1, "test")
    with pytest.raises(SignedOut):
        world.sessions.account(token)
