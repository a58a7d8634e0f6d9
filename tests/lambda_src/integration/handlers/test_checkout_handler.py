"""POST /billing/checkout and /billing/checkout/outcome end to end: the real handler and adapters
on moto and the Stripe bridge (Checkout in setup mode and past-due invoices are gaps the bridge
fills). Accounts come from the real register handler, billing events go through the real webhook
handler."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid

import boto3
import pytest

from testkit.lambda_events import (
    SIGNUP_ORIGIN,
    DeployedFunction,
    api_gateway_event,
    cors_headers,
    deployed,
    invoke,
    sign_up,
)
from testkit.stripe_events import deliver, stripe_event
from tollgate import contract


@pytest.fixture(scope="module")
def checkout_module(aws, stripe_api, moesif_collector, price_id) -> DeployedFunction:
    return deployed("tollgate.handlers.checkout", aws.environment(stripe_api, moesif_collector.base_url, price_id))


def open_checkout(module, body, api_key: str | None, route: str = contract.ROUTE_CHECKOUT):
    headers = {contract.API_KEY_HEADER: api_key} if api_key is not None else {}
    raw = body if isinstance(body, str) else json.dumps(body)
    return invoke(module, api_gateway_event(raw, path=route, headers=headers))


def test_the_keys_owner_gets_a_setup_mode_session_for_their_own_customer(
    checkout_module, register_module, stripe_client
):
    account = sign_up(register_module)

    status, headers, body = open_checkout(checkout_module, {"keyId": account["keyId"]}, account["apikey"])

    assert status == 200, body
    assert not cors_headers(headers)
    (session,) = stripe_client.v1.checkout.sessions.list({"customer": account["customerId"]}).data
    assert body == {"url": session.url}
    assert session.mode == "setup"
    assert session.success_url == SIGNUP_ORIGIN + "/?checkout=success&session_id={CHECKOUT_SESSION_ID}"
    assert session.cancel_url == SIGNUP_ORIGIN + "/?checkout=cancel"


def test_the_sites_checkout_route_answers_as_the_apis_does(checkout_module, register_module, stripe_client):
    """POST /api/billing/checkout, where the signup page calls it on its own origin: the same session
    for the key's owner, the same 403 for a key that does not match."""
    account = sign_up(register_module)

    refused = open_checkout(
        checkout_module, {"keyId": account["keyId"]}, "someone-elses-key", route=contract.ROUTE_SITE_CHECKOUT
    )
    assert refused == open_checkout(checkout_module, {"keyId": account["keyId"]}, "someone-elses-key")
    status, _, body = open_checkout(
        checkout_module, {"keyId": account["keyId"]}, account["apikey"], route=contract.ROUTE_SITE_CHECKOUT
    )

    assert status == 200, body
    (session,) = stripe_client.v1.checkout.sessions.list({"customer": account["customerId"]}).data
    assert body == {"url": session.url} and session.mode == "setup"


def test_the_register_answer_offers_the_request_that_opens_checkout(checkout_module, register_module, stripe_client):
    account = sign_up(register_module)
    offer = account["addPaymentMethod"]

    assert (offer["method"], offer["path"]) == ("POST", contract.ROUTE_CHECKOUT)
    status, _, body = invoke(
        checkout_module,
        api_gateway_event(
            json.dumps(offer["body"]), path=offer["path"], headers={offer["apiKeyHeader"]: account["apikey"]}
        ),
    )

    assert status == 200, body
    (session,) = stripe_client.v1.checkout.sessions.list({"customer": account["customerId"]}).data
    assert body == {"url": session.url} and session.mode == "setup"


@pytest.mark.parametrize("presented", ["someone-elses-key", "", None], ids=["wrong-key", "empty-key", "no-header"])
def test_a_key_that_does_not_match_the_key_id_gets_403_and_no_session(
    checkout_module, register_module, stripe_client, presented
):
    account = sign_up(register_module)

    status, headers, body = open_checkout(checkout_module, {"keyId": account["keyId"]}, presented)

    assert status == 403 and "do not match" in body["error"]
    assert not cors_headers(headers)
    assert stripe_client.v1.checkout.sessions.list({"customer": account["customerId"]}).data == []


def test_another_customers_valid_key_cannot_open_checkout_for_this_customer(
    checkout_module, register_module, stripe_client
):
    victim, attacker = sign_up(register_module), sign_up(register_module)

    status, _, _ = open_checkout(checkout_module, {"keyId": victim["keyId"]}, attacker["apikey"])

    assert status == 403
    assert stripe_client.v1.checkout.sessions.list({"customer": victim["customerId"]}).data == []


def test_an_unknown_key_id_gets_the_same_403(checkout_module, register_module):
    account = sign_up(register_module)

    status, _, body = open_checkout(checkout_module, {"keyId": "nosuchkey1"}, account["apikey"])

    assert status == 403 and "do not match" in body["error"]


def test_a_customer_id_in_the_body_is_never_used(checkout_module, register_module, stripe_client):
    account, other = sign_up(register_module), sign_up(register_module)

    status, _, _ = open_checkout(
        checkout_module, {"keyId": account["keyId"], "customer": other["customerId"]}, account["apikey"]
    )

    assert status == 200
    assert stripe_client.v1.checkout.sessions.list({"customer": other["customerId"]}).data == []
    assert len(stripe_client.v1.checkout.sessions.list({"customer": account["customerId"]}).data) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("not json", "body"),
        ("[]", "body"),
        ({}, "keyId"),
        ({"keyId": 7}, "keyId"),
        ({"keyId": "../../etc"}, "keyId"),
        ('{"keyId": ' + "[" * 1000 + "]" * 1000 + "}", "body"),
    ],
)
def test_a_malformed_body_gets_400_naming_the_field(checkout_module, body, field):
    status, _, answer = open_checkout(checkout_module, body, "any-key")

    assert status == 400 and field in answer["fields"]


def ask_outcome(module, body) -> tuple[int, dict]:
    """The answer of POST /billing/checkout/outcome, after checking that its twin on the site's origin
    (POST /api/billing/checkout/outcome, where the page asks) answers the same."""
    raw = body if isinstance(body, str) else json.dumps(body)
    answers = [
        invoke(module, api_gateway_event(raw, path=route))
        for route in (contract.ROUTE_CHECKOUT_OUTCOME, contract.ROUTE_SITE_CHECKOUT_OUTCOME)
    ]
    assert answers[0][0::2] == answers[1][0::2]
    status, headers, answer = answers[0]
    assert not cors_headers(headers) and headers["Cache-Control"] == "no-store"
    return status, answer


def bridge_post(url: str, body: bytes) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10) as response:
        return json.loads(response.read())


def key_enabled(account: dict) -> bool:
    """The authorizer would let the key call: its item (found by the key's hash) says the account may."""
    dynamodb = boto3.client("dynamodb")
    (table,) = [name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-keys")]
    item = dynamodb.get_item(
        TableName=table,
        Key={contract.KEYS_PARTITION_KEY: {"S": hashlib.sha256(account["apikey"].encode()).hexdigest()}},
    )["Item"]
    return item[contract.KEYS_ATTR_ACCOUNT_STATUS]["S"] in contract.KEY_CALLABLE_ACCOUNT_STATUSES


@pytest.mark.parametrize(
    "test_card, settled",
    [
        ("pm_card_visa", {"settled": True, "status": "active", "reason": None}),
        (
            "pm_card_chargeCustomerFail",
            {
                "settled": True,
                "status": "suspended",
                "reason": "The card added at checkout was declined: Your card was declined.",
            },
        ),
    ],
    ids=["card-pays", "card-declined"],
)
def test_a_past_due_customer_back_from_checkout_learns_what_became_of_the_account(
    checkout_module, register_module, webhook_module, stripe_api, stripe_client, test_card, settled
):
    account = sign_up(register_module)
    bridge_post(f"{stripe_api}/_bridge/subscriptions/{account['subscriptionId']}/past_due", b'{"amount_due": 1250}')
    past_due = stripe_client.v1.subscriptions.retrieve(account["subscriptionId"])
    assert past_due.status == "past_due"
    shown = {"id": past_due.id, "object": "subscription", "customer": past_due.customer, "status": past_due.status}
    assert deliver(webhook_module, stripe_event("customer.subscription.updated", shown))[0] == 200
    assert not key_enabled(account)
    url = open_checkout(checkout_module, {"keyId": account["keyId"]}, account["apikey"])[2]["url"]
    session_id = url.rsplit("/", 1)[-1]

    completed = bridge_post(f"{url}/complete", f"payment_method={test_card}".encode())["session"]
    assert ask_outcome(checkout_module, {"sessionId": session_id}) == (200, {"settled": False})  # webhook in flight
    assert deliver(webhook_module, stripe_event("checkout.session.completed", completed))[0] == 200

    assert ask_outcome(checkout_module, {"sessionId": session_id}) == (200, settled)
    assert key_enabled(account) is (settled["status"] == "active")


def test_the_outcome_of_a_session_no_account_opened_is_404(checkout_module, stripe_client):
    customer = stripe_client.v1.customers.create({"email": f"{uuid.uuid4().hex[:10]}@example.com"})
    foreign = stripe_client.v1.checkout.sessions.create(
        {"mode": "setup", "customer": customer.id, "currency": "usd", "success_url": "https://elsewhere.example/"}
    )

    for session_id in (foreign.id, "cs_test_" + uuid.uuid4().hex):
        status, answer = ask_outcome(checkout_module, {"sessionId": session_id})
        assert status == 404 and "session" in answer["error"]


@pytest.mark.parametrize("body", ["", "{}", {"sessionId": 7}, {"sessionId": "evt_123"}, {"sessionId": "cs_test_../x"}])
def test_a_malformed_outcome_request_gets_400_naming_the_field(checkout_module, body):
    status, answer = ask_outcome(checkout_module, body)

    assert status == 400 and set(answer["fields"]) & {"body", "sessionId"}
