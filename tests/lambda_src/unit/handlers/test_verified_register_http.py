"""POST /register with `verify_email` on and POST /api/signup/confirm, on fakes: the same 202 for
every address with nothing created, the key only once the link is opened, the link refused after,
the per-address limit as a 429 the page can read; and `verify_email=false`: today's 201."""

from __future__ import annotations

import json

import pytest

from testkit.account_settings import EMAILS_PER_HOUR
from testkit.fake_wiring import deployed_with_accounts
from testkit.lambda_events import REGISTER_MODULE, DeployedFunction, api_gateway_event, cors_headers, invoke
from testkit.world import World
from tollgate import contract

ADA = {"email": "Ada@Example.com ", "firstname": "Ada", "lastname": "Lovelace"}


@pytest.fixture
def register(world: World) -> DeployedFunction:
    return deployed_with_accounts(REGISTER_MODULE, world)


def post(function: DeployedFunction, path: str, body: dict):
    return invoke(function, api_gateway_event(json.dumps(body), path=path))


def test_sign_up_answers_202_creates_nothing_and_the_link_gets_the_key_once(
    register: DeployedFunction, world: World
) -> None:
    status, headers, body = post(register, contract.ROUTE_REGISTER, ADA)
    assert (status, body) == (202, {"status": "confirmation_sent"})
    assert not cors_headers(headers)
    assert not world.ports.api_keys.keys and not world.ports.billing.customers and not world.ports.accounts.rows

    token = world.mailer.last_token("ada@example.com")
    status, _, created = post(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": token})
    assert status == 201 and created["status"] == "active"
    assert world.ports.can_call(created["apikey"]) and created["keyHint"] == created["apikey"][-4:]
    assert created["keyId"] == world.ports.accounts.get("ada@example.com").current_key.id
    assert created["accountId"] == world.ports.accounts.get("ada@example.com").account_id
    status, _, body = post(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": token})
    assert status == 410 and "apikey" not in body


def test_an_address_with_an_account_gets_the_very_same_answer(register: DeployedFunction, world: World) -> None:
    world.signed_up("ada@example.com")
    world.clock.advance(3600)
    new = post(register, contract.ROUTE_REGISTER, {**ADA, "email": "grace@example.com"})
    known = post(register, contract.ROUTE_REGISTER, ADA)
    assert new[0] == known[0] == 202 and new[2] == known[2]
    assert {name: value for name, value in new[1].items() if name != "x-amzn-RequestId"} == {
        name: value for name, value in known[1].items() if name != "x-amzn-RequestId"
    }
    assert "already have an account" in world.mailer.to("ada@example.com")[-1].subject


def test_a_link_of_a_taken_address_answers_409_with_no_key(register: DeployedFunction, world: World) -> None:
    post(register, contract.ROUTE_REGISTER, ADA)
    first = world.mailer.last_token("ada@example.com")
    post(register, contract.ROUTE_REGISTER, ADA)
    assert (
        post(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": world.mailer.last_token("ada@example.com")})[0] == 201
    )
    status, _, body = post(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": first})
    assert status == 409 and body["fields"] == {"email": "already has an account"}


def test_past_the_hourly_share_of_emails_the_answer_is_429_with_retry_after(
    register: DeployedFunction, world: World
) -> None:
    for _ in range(EMAILS_PER_HOUR):
        assert post(register, contract.ROUTE_REGISTER, ADA)[0] == 202
    status, headers, body = post(register, contract.ROUTE_REGISTER, ADA)
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 3600
    assert "try again in" in body["error"] and body["fields"] == {"email": "too many emails this hour"}
    assert len(world.mailer.sent) == EMAILS_PER_HOUR


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "short"}, {"token": "x" * 200}, {"token": "a b" * 20}])
def test_a_malformed_token_is_400_naming_the_field(register: DeployedFunction, body: dict) -> None:
    status, _, answer = post(register, contract.ROUTE_SIGNUP_CONFIRM, body)
    assert status == 400 and list(answer["fields"]) == ["token"]


def test_without_verify_email_sign_up_is_one_step_as_before(world: World) -> None:
    register = deployed_with_accounts(REGISTER_MODULE, world, verify_email=False)
    status, _, created = post(register, contract.ROUTE_REGISTER, ADA)
    assert status == 201 and world.ports.can_call(created["apikey"])
    assert world.mailer.sent == []
