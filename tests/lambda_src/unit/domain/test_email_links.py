"""The one token machinery behind sign-up confirmation and sign-in links: entropy, storage by hash
only, expiry, single use, tampering, purpose, and the per-address email limit."""

from __future__ import annotations

import pytest

from testkit.account_settings import EMAILS_PER_HOUR, LINK_TTL_SECONDS
from testkit.world import World
from tollgate.domain.customer_access import LinkPurpose, token_hash
from tollgate.domain.email_links import EMAIL_COUNT_WINDOW_SECONDS
from tollgate.domain.errors import InvalidLink, TooManyEmails
from tollgate.domain.models import Email

ADDRESS = "ada@example.com"


def sent_token(world: World, purpose: LinkPurpose = LinkPurpose.SIGN_IN) -> str:
    world.links.send_link(purpose, ADDRESS, lambda token: Email(ADDRESS, "link", f"https://x/#signin={token}"))
    return world.mailer.last_token(ADDRESS)


def test_a_token_has_256_random_bits_and_only_its_hash_is_stored(world: World) -> None:
    token = sent_token(world)
    assert len(token) == 43  # token_urlsafe(32): 32 random bytes, base64url without padding
    (stored,) = world.access.links.values()
    assert stored.token_hash == token_hash(token) and len(stored.token_hash) == 64
    assert token not in repr(world.access.links)
    assert stored.expires_at == int(world.clock()) + LINK_TTL_SECONDS


def test_a_link_works_once(world: World) -> None:
    token = sent_token(world)
    assert world.links.redeem(LinkPurpose.SIGN_IN, token).email == ADDRESS
    with pytest.raises(InvalidLink):
        world.links.redeem(LinkPurpose.SIGN_IN, token)


def test_a_link_expires_after_its_ttl(world: World) -> None:
    token = sent_token(world)
    world.clock.advance(LINK_TTL_SECONDS - 1)
    assert world.links.find(LinkPurpose.SIGN_IN, token).email == ADDRESS
    world.clock.advance(1)
    with pytest.raises(InvalidLink):
        world.links.find(LinkPurpose.SIGN_IN, token)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token[:-2],
        lambda token: token + "x",
        lambda token: token.upper(),
    ],
)
def test_a_tampered_token_is_refused(world: World, tamper) -> None:
    token = sent_token(world)
    with pytest.raises(InvalidLink):
        world.links.redeem(LinkPurpose.SIGN_IN, tamper(token))
    assert world.links.redeem(LinkPurpose.SIGN_IN, token).email == ADDRESS  # the real one still works


def test_a_link_is_good_for_its_own_purpose_only(world: World) -> None:
    token = sent_token(world, LinkPurpose.SIGN_IN)
    with pytest.raises(InvalidLink):
        world.links.find(LinkPurpose.SIGN_UP, token)


@pytest.mark.parametrize("purpose", list(LinkPurpose))
def test_peeking_names_any_live_link_and_spends_nothing(world: World, purpose: LinkPurpose) -> None:
    token = sent_token(world, purpose)
    assert world.links.peek(token).purpose is purpose and world.links.peek(token).email == ADDRESS
    assert world.links.find(purpose, token).email == ADDRESS  # still there to be used
    world.clock.advance(LINK_TTL_SECONDS)
    with pytest.raises(InvalidLink):
        world.links.peek(token)


def test_a_used_link_cannot_be_peeked_at(world: World) -> None:
    token = sent_token(world)
    world.links.redeem(LinkPurpose.SIGN_IN, token)
    with pytest.raises(InvalidLink):
        world.links.peek(token)


def test_two_uses_at_once_have_one_winner(world: World) -> None:
    token = sent_token(world)
    link = world.links.find(LinkPurpose.SIGN_IN, token)
    world.links.use(link)
    with pytest.raises(InvalidLink):
        world.links.use(link)


def test_an_address_gets_at_most_its_hourly_share_of_emails_then_more_the_next_hour(world: World) -> None:
    world.clock.now -= world.clock.now % EMAIL_COUNT_WINDOW_SECONDS  # the start of an hour
    for _ in range(EMAILS_PER_HOUR):
        sent_token(world)
    world.clock.advance(600)
    with pytest.raises(TooManyEmails) as refused:
        sent_token(world)
    assert refused.value.retry_after == EMAIL_COUNT_WINDOW_SECONDS - 600
    assert len(world.mailer.sent) == EMAILS_PER_HOUR and len(world.access.links) == EMAILS_PER_HOUR  # nothing stored
    world.clock.advance(refused.value.retry_after)
    sent_token(world)
    assert len(world.mailer.sent) == EMAILS_PER_HOUR + 1


def test_the_limit_counts_each_address_apart(world: World) -> None:
    for _ in range(EMAILS_PER_HOUR):
        sent_token(world)
    world.links.send_notice(Email("grace@example.com", "hi", "no link"))
    assert world.mailer.to("grace@example.com")
