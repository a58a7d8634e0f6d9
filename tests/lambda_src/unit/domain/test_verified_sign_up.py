"""Sign-up with a verified email on fakes: nothing exists until the link is opened, the same answer
for every address (no enumeration), and the link spent only once the answer is final."""

from __future__ import annotations

import pytest

from testkit.world import World
from tollgate import contract
from tollgate.domain.account import AccountStatus
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered, InvalidLink, RegistrationInProgress
from tollgate.domain.models import Registrant

ADA = Registrant("ada@example.com", "Ada", "Lovelace")


def created_anything(world: World) -> bool:
    ports = world.ports
    return bool(ports.api_keys.keys or ports.billing.customers or ports.analytics.users or ports.accounts.rows)


def test_a_sign_up_request_creates_nothing_and_emails_a_confirmation_link(world: World) -> None:
    world.sign_up.request(ADA)
    assert not created_anything(world)
    (email,) = world.mailer.sent
    assert email.to == ADA.email and "confirm" in email.subject.lower()
    assert f"https://shop.example/#confirm={world.mailer.last_token(ADA.email)}" in email.text


def test_opening_the_link_registers_the_sign_up_once(world: World) -> None:
    world.sign_up.request(ADA)
    token = world.mailer.last_token(ADA.email)
    registration = world.sign_up.confirm(token)
    assert registration.status is AccountStatus.ACTIVE
    assert world.can_call(registration.key.value)
    account = world.ports.accounts.get(ADA.email)
    assert (account.first_name, account.last_name, account.customer_id) == ("Ada", "Lovelace", registration.customer_id)
    with pytest.raises(InvalidLink):
        world.sign_up.confirm(token)
    assert len(world.ports.api_keys.keys) == 1
    metrics = world.ports.metrics
    assert [
        metrics.total(name)
        for name in (
            contract.METRIC_SIGNUPS_REQUESTED,
            contract.METRIC_SIGNUPS_STARTED,
            contract.METRIC_SIGNUPS_CONFIRMED,
        )
    ] == [1, 1, 1]


def test_every_request_is_counted_whether_or_not_its_link_is_opened(world: World) -> None:
    """What the sign-ups-per-hour alarm watches with verify_email: a wave shows before any link is opened."""
    world.signed_up(ADA.email)
    requested_before = world.ports.metrics.total(contract.METRIC_SIGNUPS_REQUESTED)
    for email in (ADA.email, "bot1@example.com", "bot2@example.com"):
        world.sign_up.request(Registrant(email, "A", "B"))
    assert world.ports.metrics.total(contract.METRIC_SIGNUPS_REQUESTED) == requested_before + 3


def test_an_existing_account_gets_the_same_answer_and_a_sign_in_link_instead(world: World) -> None:
    world.signed_up(ADA.email)
    before = (dict(world.ports.api_keys.keys), dict(world.ports.billing.customers))
    world.sign_up.request(Registrant(ADA.email, "Someone", "Else"))  # returns None like any request
    assert (world.ports.api_keys.keys, world.ports.billing.customers) == before
    email = world.mailer.sent[-1]
    assert "already have an account" in email.subject
    assert f"/{contract.ACCOUNT_PAGE}#signin={world.mailer.last_token(ADA.email)}" in email.text


def test_known_and_unknown_addresses_cost_the_same_calls(world: World) -> None:
    """Same timing class: one read, one count, one link write, one email, whatever the address."""
    world.signed_up(ADA.email)
    calls = []
    for email in (ADA.email, "nobody@example.com"):
        before = len(world.ports.accounts.calls) + len(world.access.calls) + len(world.mailer.calls)
        world.sign_up.request(Registrant(email, "A", "B"))
        calls.append(len(world.ports.accounts.calls) + len(world.access.calls) + len(world.mailer.calls) - before)
    assert calls[0] == calls[1] == 4


def test_a_canceled_account_signs_up_again_through_a_confirmation_link(world: World) -> None:
    account = world.signed_up(ADA.email)
    world.ports.accounts.rows[ADA.email] = account.with_status(AccountStatus.CANCELED, 1, "test")
    world.sign_up.request(ADA)
    assert "confirm" in world.mailer.sent[-1].subject.lower()


def test_a_failing_service_leaves_the_link_usable(world: World) -> None:
    world.sign_up.request(ADA)
    token = world.mailer.last_token(ADA.email)
    world.ports.billing.fail("create_customer")
    with pytest.raises(DownstreamError):
        world.sign_up.confirm(token)
    assert not world.ports.billing.customers and not world.ports.api_keys.keys  # rolled back
    assert world.sign_up.confirm(token).status is AccountStatus.ACTIVE


def test_a_link_for_an_address_that_got_an_account_meanwhile_is_spent_with_409(world: World) -> None:
    world.sign_up.request(ADA)
    first = world.mailer.last_token(ADA.email)
    world.sign_up.request(ADA)  # a second request before either link was opened
    second = world.mailer.last_token(ADA.email)
    world.sign_up.confirm(second)
    with pytest.raises(EmailAlreadyRegistered):
        world.sign_up.confirm(first)
    with pytest.raises(InvalidLink):
        world.sign_up.confirm(first)


def test_the_same_link_confirmed_while_its_sign_up_runs_is_already_being_processed(world: World) -> None:
    world.sign_up.request(ADA)
    token = world.mailer.last_token(ADA.email)
    confirmed: list[str] = []

    def confirm_again_meanwhile(*_arguments) -> None:
        if confirmed:
            return  # the second confirm's own key (deleted again by its rollback)
        confirmed.append("second")
        with pytest.raises(RegistrationInProgress):
            world.sign_up.confirm(token)

    world.ports.api_keys.create_key = _after(  # type: ignore[method-assign]  # the fake, slowed for this test
        world.ports.api_keys.create_key, confirm_again_meanwhile
    )
    assert world.sign_up.confirm(token).status is AccountStatus.ACTIVE
    assert confirmed == ["second"] and len(world.ports.api_keys.keys) == 1


def _after(call, then):
    def wrapped(*arguments):
        result = call(*arguments)
        then(*arguments)
        return result

    return wrapped
