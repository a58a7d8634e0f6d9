"""Prepaid credit through the deployed functions on fakes (issue 21): the account page shows the balance,
packs and entries, and "Buy credits" answers a Checkout URL; the signed `checkout.session.completed` of
the paid session adds the credit once, however often Stripe delivers it."""

from __future__ import annotations

import json

import pytest

from testkit.fake_ports import PREPAID_PLANS
from testkit.fake_wiring import FAKE_STRIPE_SECRET, deployed_on_fakes, deployed_with_accounts
from testkit.lambda_events import DeployedFunction, api_gateway_event, invoke
from testkit.stripe_events import deliver, stripe_event
from testkit.world import World
from tollgate import contract
from tollgate.adapters.stripe_credit_sales import ACCOUNT, CREDIT, PACK, PLAN, SESSION_KIND

ADA = "ada@example.com"
ACCOUNT_MODULE = "tollgate.handlers.account"
WEBHOOK_MODULE = "tollgate.handlers.stripe_webhook"
SIGNING_SECRET = FAKE_STRIPE_SECRET[contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET]


@pytest.fixture
def world() -> World:
    return World.create(PREPAID_PLANS)


@pytest.fixture
def function(world: World) -> DeployedFunction:
    return deployed_with_accounts(ACCOUNT_MODULE, world)


@pytest.fixture
def webhook(world: World) -> DeployedFunction:
    return deployed_on_fakes(
        WEBHOOK_MODULE, world.ports, credit_ledger=world.credit_ledger, credit_sales=world.credit_sales
    )


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


def completed_session(world: World, url: str, payment_status: str = "paid") -> dict:
    """The `data.object` of the completed session at `url`, as Stripe sends it (metadata as StripeCreditSales wrote it)."""
    opened = next(s for s in world.credit_sales.sessions.values() if s["url"] == url)
    order = opened["order"]
    return {
        "id": opened["id"],
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": payment_status,
        "customer": order.customer_id,
        "amount_total": order.price,
        "currency": order.currency,
        "metadata": {
            SESSION_KIND[0]: SESSION_KIND[1],
            ACCOUNT: order.account_id,
            PLAN: order.plan_id,
            PACK: order.pack_id,
            CREDIT: str(order.credit),
        },
    }


def test_a_prepaid_customer_buys_a_pack_and_the_paid_sessions_webhook_adds_it_once(
    function: DeployedFunction, webhook: DeployedFunction, world: World
) -> None:
    world.signed_up(ADA, "prepaid")
    cookie = session(function, world)

    status, _, body = call(function, contract.ROUTE_ACCOUNT_CREDITS, {"pack": "fifty"}, cookie=cookie)
    assert status == 200 and body["checkoutUrl"].startswith("https://checkout.stripe.test/")

    event = stripe_event("checkout.session.completed", completed_session(world, body["checkoutUrl"]))
    assert deliver(webhook, event, secret=SIGNING_SECRET)[2]["outcome"] == "applied"
    assert deliver(webhook, event, secret=SIGNING_SECRET)[2]["outcome"] == "duplicate"  # Stripe delivered it again

    status, _, page = call(function, contract.ROUTE_ACCOUNT, cookie=cookie, method="GET")
    assert status == 200
    section = page["credits"]
    assert (section["balance"], section["currency"], section["unitPrice"]) == (55_000_000, "usd", 1_000)
    assert section["packs"] == [
        {"id": "ten", "credit": 10_000_000, "price": 1_000},
        {"id": "fifty", "credit": 55_000_000, "price": 5_000},
    ]
    assert [(entry["kind"], entry["amount"], entry["note"]) for entry in section["entries"]] == [
        ("purchase", 55_000_000, "pack fifty")
    ]


def test_a_completed_but_unpaid_session_adds_no_credit(
    function: DeployedFunction, webhook: DeployedFunction, world: World
) -> None:
    account = world.signed_up(ADA, "prepaid")
    _, _, body = call(function, contract.ROUTE_ACCOUNT_CREDITS, {"pack": "ten"}, cookie=session(function, world))

    event = stripe_event("checkout.session.completed", completed_session(world, body["checkoutUrl"], "unpaid"))
    assert deliver(webhook, event, secret=SIGNING_SECRET)[2]["outcome"] == "ignored"
    assert world.credit_ledger.balance(account.account_id or "") == 0


def test_buying_credit_on_a_metered_plan_is_refused_with_why(function: DeployedFunction, world: World) -> None:
    world.signed_up(ADA, "standard")
    cookie = session(function, world)

    status, _, body = call(function, contract.ROUTE_ACCOUNT_CREDITS, {"pack": "ten"}, cookie=cookie)

    assert status == 409 and "not prepaid" in body["error"]
    assert call(function, contract.ROUTE_ACCOUNT, cookie=cookie, method="GET")[2]["credits"] is None


def test_a_pack_the_plan_does_not_sell_is_a_400_naming_the_field(function: DeployedFunction, world: World) -> None:
    world.signed_up(ADA, "prepaid")

    status, _, body = call(function, contract.ROUTE_ACCOUNT_CREDITS, {"pack": "huge"}, cookie=session(function, world))

    assert status == 400 and "choose one of: ten, fifty" in body["fields"]["pack"]
