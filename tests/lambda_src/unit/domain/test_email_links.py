"""The one token machinery behind sign-up confirmation and sign-in links: entropy, storage by hash
only, expiry, single use, tampering, purpose, and the per-address email limit."""

from __future__ import annotations

import pytest

from testkit.world import EMAILS_PER_HOUR, LINK_TTL_SECONDS, World
from tollgate.domain.customer_access import LinkPurpose, token_hash
from tollgate.domain.email_links import EMAIL_COUNT_WINDOW_SECONDS
from tollgate.domain.errors import InvalidLink, TooManyEmails
from tollgate.domain.models import Email

ADDRESS = "ada@example.com"


@pytest.fixture
def fakes() -> World:
    return World.create()


def sent_token(fakes: World, purpose: LinkPurpose = LinkPurpose.SIGN_IN) -> str:
    fakes.links.send_link(purpose, ADDRESS, lambda token: Email(ADDRESS, "link", f"https://x/#signin={token}"))
    return fakes.mailer.last_token(ADDRESS)


def test_a_token_has_256_random_bits_and_only_its_hash_is_stored(fakes: World) -> None:
    token = sent_token(fakes)
    assert len(token) == 43  # token_urlsafe(32): 32 random bytes, base64url without padding
    (stored,) = fakes.access.links.values()
    assert stored.token_hash == token_hash(token) and len(stored.token_hash) == 64
    assert token not in repr(fakes.access.links)
    assert stored.expires_at == int(fakes.clock()) + LINK_TTL_SECONDS


def test_a_link_works_once(fakes: World) -> None:
    token = sent_token(fakes)
    assert fakes.links.redeem(LinkPurpose.SIGN_IN, token).email == ADDRESS
    with pytest.raises(InvalidLink):
        fakes.links.redeem(LinkPurpose.SIGN_IN, token)


def test_a_link_expires_after_its_ttl(fakes: World) -> None:
    token = sent_token(fakes)
    fakes.clock.advance(LINK_TTL_SECONDS - 1)
    assert fakes.links.find(LinkPurpose.SIGN_IN, token).email == ADDRESS
    fakes.clock.advance(1)
    with pytest.raises(InvalidLink):
        fakes.links.find(LinkPurpose.SIGN_IN, token)


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: token[:-2],
    lambda token: token + "x",
    lambda token: token.upper(),
])
def test_a_tampered_token_is_refused(fakes: World, tamper) -> None:
    token = sent_token(fakes)
    with pytest.raises(InvalidLink):
        fakes.links.redeem(LinkPurpose.SIGN_IN, tamper(token))
    assert fakes.links.redeem(LinkPurpose.SIGN_IN, token).email == ADDRESS  # the real one still works


def test_a_link_is_good_for_its_own_purpose_only(fakes: World) -> None:
    token = sent_token(fakes, LinkPurpose.SIGN_IN)
    with pytest.raises(InvalidLink):
        fakes.links.find(LinkPurpose.SIGN_UP, token)


@pytest.mark.parametrize("purpose", list(LinkPurpose))
def test_peeking_names_any_live_link_and_spends_nothing(fakes: World, purpose: LinkPurpose) -> None:
    token = sent_token(fakes, purpose)
    assert fakes.links.peek(token).purpose is purpose and fakes.links.peek(token).email == ADDRESS
    assert fakes.links.find(purpose, token).email == ADDRESS  # still there to be used
    fakes.clock.advance(LINK_TTL_SECONDS)
    with pytest.raises(InvalidLink):
        fakes.links.peek(token)


def test_a_used_link_cannot_be_peeked_at(fakes: World) -> None:
    token = sent_token(fakes)
    fakes.links.redeem(LinkPurpose.SIGN_IN, token)
    with pytest.raises(InvalidLink):
        fakes.links.peek(token)


def test_two_uses_at_once_have_one_winner(fakes: World) -> None:
    token = sent_token(fakes)
    link = fakes.links.find(LinkPurpose.SIGN_IN, token)
    fakes.links.use(link)
    with pytest.raises(InvalidLink):
        fakes.links.use(link)


def test_an_address_gets_at_most_its_hourly_share_of_emails_then_more_the_next_hour(fakes: World) -> None:
    fakes.clock.now -= fakes.clock.now % EMAIL_COUNT_WINDOW_SECONDS  # the start of an hour
    for _ in range(EMAILS_PER_HOUR):
        sent_token(fakes)
    fakes.clock.advance(600)
    with pytest.raises(TooManyEmails) as refused:
        sent_token(fakes)
    assert refused.value.retry_after == EMAIL_COUNT_WINDOW_SECONDS - 600
    assert len(fakes.mailer.sent) == EMAILS_PER_HOUR and len(fakes.access.links) == EMAILS_PER_HOUR  # nothing stored
    fakes.clock.advance(refused.value.retry_after)
    sent_token(fakes)
    assert len(fakes.mailer.sent) == EMAILS_PER_HOUR + 1


def test_the_limit_counts_each_address_apart(fakes: World) -> None:
    for _ in range(EMAILS_PER_HOUR):
        sent_token(fakes)
    fakes.links.send_notice(Email("grace@example.com", "hi", "no link"))
    assert fakes.mailer.to("grace@example.com")
