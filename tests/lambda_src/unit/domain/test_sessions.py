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
def fakes() -> World:
    fakes = World.create()
    fakes.signed_up(ADA)
    return fakes


def test_an_account_holder_gets_a_link_that_opens_a_12_hour_session(fakes: World) -> None:
    fakes.sessions.request_sign_in(ADA)
    assert f"/{contract.ACCOUNT_PAGE}#signin=" in fakes.mailer.sent[-1].text
    token, session = fakes.sessions.open(fakes.mailer.last_token(ADA))
    assert len(token) == 43 and session.email == ADA
    assert session.expires_at - session.created_at == contract.SESSION_SECONDS == 12 * 3600
    assert list(fakes.access.sessions) == [token_hash(token)]  # the token itself is stored nowhere
    assert fakes.sessions.account(token).email == ADA


def test_an_unknown_address_gets_the_same_answer_and_a_no_account_email(fakes: World) -> None:
    calls = []
    for email in (ADA, "nobody@example.com"):
        before = len(fakes.ports.accounts.calls) + len(fakes.access.calls) + len(fakes.mailer.calls)
        fakes.sessions.request_sign_in(email)  # returns None either way
        calls.append(len(fakes.ports.accounts.calls) + len(fakes.access.calls) + len(fakes.mailer.calls) - before)
    assert fakes.mailer.to("nobody@example.com")[-1].subject == "No account with this email"
    assert "#signin=" not in fakes.mailer.to("nobody@example.com")[-1].text
    assert calls[1] in (calls[0] - 1, calls[0])  # a link write more for the holder, nothing else


def test_a_session_ends_after_12_hours(fakes: World) -> None:
    token = fakes.signed_in(ADA)
    fakes.clock.advance(contract.SESSION_SECONDS - 1)
    assert fakes.sessions.account(token).email == ADA
    fakes.clock.advance(1)
    with pytest.raises(SignedOut):
        fakes.sessions.account(token)


@pytest.mark.parametrize("cookie", [None, "", "not-a-session", "x" * 43])
def test_no_or_a_made_up_cookie_is_signed_out(fakes: World, cookie: str | None) -> None:
    with pytest.raises(SignedOut):
        fakes.sessions.account(cookie)


def test_sign_out_ends_this_session_only_and_everywhere_ends_them_all(fakes: World) -> None:
    phone, laptop, tablet = (fakes.signed_in(ADA) for _ in range(3))
    fakes.sessions.close(phone)
    with pytest.raises(SignedOut):
        fakes.sessions.account(phone)
    assert fakes.sessions.account(laptop).email == ADA
    fakes.sessions.close(laptop, everywhere=True)
    for token in (laptop, tablet):
        with pytest.raises(SignedOut):
            fakes.sessions.account(token)
    fakes.sessions.close(laptop)  # twice is not an error


def test_a_sign_in_link_works_once_and_never_as_a_sign_up_link(fakes: World) -> None:
    fakes.sessions.request_sign_in(ADA)
    token = fakes.mailer.last_token(ADA)
    with pytest.raises(InvalidLink):
        fakes.sign_up.confirm(token)
    fakes.sessions.open(token)
    with pytest.raises(InvalidLink):
        fakes.sessions.open(token)


def test_sign_in_links_share_the_addresses_hourly_limit(fakes: World) -> None:
    with pytest.raises(TooManyEmails):
        for _ in range(5):
            fakes.sessions.request_sign_in(ADA)


def test_a_failed_or_pending_row_cannot_sign_in(fakes: World) -> None:
    account = fakes.ports.accounts.get(ADA)
    token = fakes.signed_in(ADA)
    fakes.ports.accounts.rows[ADA] = account.with_status(AccountStatus.FAILED, 1, "test")
    with pytest.raises(SignedOut):
        fakes.sessions.account(token)
