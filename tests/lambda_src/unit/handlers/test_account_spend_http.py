"""The account function's alerts and cap on fakes (issue 21): the page shows the thresholds that apply
and those crossed; a customer chooses alerts and a cap; a refusal is a 400 naming the field."""

from __future__ import annotations

import json

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_wiring import deployed_with_accounts
from testkit.lambda_events import DeployedFunction, api_gateway_event, invoke
from testkit.world import World
from tollgate import contract
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.spend_control import QuotaUsage, SpendFigures, Window
from tollgate.domain.usage_limits import quota_period

ADA = "ada@example.com"
ACCOUNT_MODULE = "tollgate.handlers.account"


@pytest.fixture
def function(world: World) -> DeployedFunction:
    return deployed_with_accounts(ACCOUNT_MODULE, world)


def call(function: DeployedFunction, path: str, body: dict | None = None, *, cookie: str, method: str = "POST"):
    headers = {"Content-Type": "application/json", "Cookie": f"{contract.SESSION_COOKIE}={cookie}"}
    return invoke(
        function,
        api_gateway_event(None if body is None else json.dumps(body), method=method, path=path, headers=headers),
    )


def session(function: DeployedFunction, world: World) -> str:
    headers = {"Content-Type": "application/json"}
    invoke(
        function,
        api_gateway_event(json.dumps({"email": ADA}), method="POST", path=contract.ROUTE_SIGNIN, headers=headers),
    )
    _, answer, _ = invoke(
        function,
        api_gateway_event(
            json.dumps({"token": world.mailer.last_token(ADA)}),
            method="POST",
            path=contract.ROUTE_SIGNIN_CONFIRM,
            headers=headers,
        ),
    )
    return answer["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def test_a_free_account_page_shows_the_default_alerts_and_which_were_crossed(
    function: DeployedFunction, world: World
) -> None:
    account = world.signed_up(ADA, "free")
    plan = world.plans.get("free")
    this_month = Window(*quota_period(plan.quota_period, int(world.clock())))
    world.usage_alerts.check(account, plan, SpendFigures(QuotaUsage(this_month, 850)))

    status, _, body = call(function, contract.ROUTE_ACCOUNT, cookie=session(function, world), method="GET")

    assert status == 200
    assert body["spend"]["thresholds"] == [
        {"id": "quota:80", "kind": "quota", "value": "80", "crossed": True},
        {"id": "quota:100", "kind": "quota", "value": "100", "crossed": False},
    ]
    assert (body["spend"]["cap"], body["spend"]["currency"], body["spend"]["perCall"]) == (None, None, False)


def test_a_paid_customer_sets_an_amount_alert_and_a_cap(function: DeployedFunction, world: World) -> None:
    account = world.signed_up(ADA, "standard")
    world.account_billing.invoices[account.subscription_id] = UpcomingInvoice(0, "usd", 1_800_000_000, 1_802_592_000)
    cookie = session(function, world)

    status, _, body = call(function, contract.ROUTE_ACCOUNT_SPEND, {"amounts": ["5"], "cap": "12.50"}, cookie=cookie)

    assert status == 200
    assert body["spend"]["thresholds"] == [{"id": "amount:5", "kind": "amount", "value": "5", "crossed": False}]
    assert (body["spend"]["cap"], body["spend"]["currency"], body["spend"]["perCall"]) == ("12.50", "usd", True)
    page = call(function, contract.ROUTE_ACCOUNT, cookie=cookie, method="GET")[2]
    assert page["spend"] == body["spend"]


def test_a_refused_choice_is_a_400_naming_the_field_and_changes_nothing(
    function: DeployedFunction, world: World
) -> None:
    world.signed_up(ADA, "free")

    status, _, body = call(
        function, contract.ROUTE_ACCOUNT_SPEND, {"quotaPercents": [120], "cap": "5"}, cookie=session(function, world)
    )

    assert status == 400
    assert set(body["fields"]) == {"quotaPercents", "cap"}
    row = world.accounts.get(ADA)
    assert row is not None and row.spend_settings is None


def test_choosing_needs_a_session(function: DeployedFunction) -> None:
    assert call(function, contract.ROUTE_ACCOUNT_SPEND, {"cap": "5"}, cookie="nope")[0] == 401


def test_a_customer_stopped_at_their_cap_sees_it_and_raising_it_restores_calls_at_once(world: World) -> None:
    function = deployed_with_accounts(ACCOUNT_MODULE, world, counts_usage=True)
    account = world.signed_up(ADA, "standard")
    cookie = session(function, world)
    assert call(function, contract.ROUTE_ACCOUNT_SPEND, {"cap": "1"}, cookie=cookie)[0] == 200
    at_ms = int(world.clock() * 1000)
    world.reporter.report_object(
        world.ledger.put(
            ledger_bytes(
                [call_record(account.api_key_id, account_id=account.account_id, at_ms=at_ms + n) for n in range(1_000)]
            )
        )
    )
    assert call(function, contract.ROUTE_ACCOUNT, cookie=cookie, method="GET")[2]["spend"]["capReached"] is True

    status, _, body = call(function, contract.ROUTE_ACCOUNT_SPEND, {"cap": "2"}, cookie=cookie)

    assert status == 200 and body["spend"]["capReached"] is False
    assert world.row(account).usage_limit is None
    assert {item.usage_limit for item in world.key_items.of_account(ADA)} == {None}
