"""Issue 12 through the real handlers and adapters on moto (API Gateway keys, DynamoDB, SES v2) and
the Stripe bridge: a verified sign-up, a sign-in by emailed link, the account's figures, a rotation
that touches only the keys table (the account's one usage key keeps counting: the quota left stays)
and whose old key the scheduled key retirement ends once the grace is over, and the portal."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from testkit.clock import Clock
from testkit.lambda_events import KEY_OWNER, DeployedFunction, LambdaContext, api_gateway_event, deployed, invoke
from tollgate import contract

GRACE_SECONDS = 3600


@pytest.fixture(scope="module")
def clock() -> Clock:
    """The functions' time (Wiring.clock), from now on: a test moves it past a grace instead of waiting."""
    return Clock()


@pytest.fixture(scope="module")
def environment(aws, stripe_api, moesif_collector, price_id) -> dict[str, str]:
    return {
        **aws.environment(stripe_api, moesif_collector.base_url, price_id, verify_email=True),
        contract.ENV_KEY_ROTATION_GRACE_SECONDS: str(GRACE_SECONDS),
    }


@pytest.fixture(scope="module")
def register(environment, clock) -> DeployedFunction:
    return deployed("tollgate.handlers.register", environment, clock=clock)


@pytest.fixture(scope="module")
def account_function(environment, clock) -> DeployedFunction:
    return deployed("tollgate.handlers.account", environment, clock=clock)


@pytest.fixture(scope="module")
def key_retirement(environment, clock) -> DeployedFunction:
    return deployed("tollgate.handlers.key_retirement", environment, clock=clock)


def last_link(email: str, fragment: str) -> str:
    (body,) = [
        m.body
        for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        if m.destinations["ToAddresses"] == [email]
    ][-1:]
    return re.search(rf"#{fragment}=([A-Za-z0-9_-]+)", body).group(1)


def call(
    function: DeployedFunction, path: str, body: dict | None = None, cookie: str | None = None, method: str = "POST"
):
    headers = {"Cookie": f"{contract.SESSION_COOKIE}={cookie}"} if cookie else {}
    return invoke(
        function,
        api_gateway_event(None if body is None else json.dumps(body), method=method, path=path, headers=headers),
    )


def page_of(account_function: DeployedFunction, session: str) -> dict:
    status, _, page = call(account_function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)
    assert status == 200
    return page


def signed_in(register: DeployedFunction, account_function: DeployedFunction) -> tuple[dict, str]:
    """A customer through the emailed sign-up and sign-in links: the 201 body, the session."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    call(register, contract.ROUTE_REGISTER, {"email": email, "firstname": "Ada", "lastname": "L"})
    created = call(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": last_link(email, "confirm")})[2]
    call(account_function, contract.ROUTE_SIGNIN, {"email": email})
    headers = call(account_function, contract.ROUTE_SIGNIN_CONFIRM, {"token": last_link(email, "signin")})[1]
    return created, headers["Set-Cookie"].split(";")[0].split("=", 1)[1]


def test_no_key_is_at_rest_after_sign_up_rotation_and_revocation(aws, register, account_function):
    """Done-when of issue 20 on moto (calls through the gateway: make dev's test): every key the
    customer was shown is in no table, no ledger object and no log line the functions wrote."""
    with register.captured_logs() as register_log, account_function.captured_logs() as account_log:
        created, session = signed_in(register, account_function)
        rotated = call(account_function, contract.ROUTE_ACCOUNT_KEY_ROTATE, {}, cookie=session)[2]
        revoked = call(account_function, contract.ROUTE_ACCOUNT_KEY_REVOKE, {"keyId": created["keyId"]}, cookie=session)
        page = page_of(account_function, session)

    assert revoked[0] == 200 and not aws.can_call(created["apikey"]) and aws.can_call(rotated["apikey"])
    assert [key["state"] for key in page["keys"]] == [contract.KEY_STATE_REVOKED, contract.KEY_STATE_ACTIVE]
    shown = (created["apikey"], rotated["apikey"])
    at_rest = [register_log.getvalue(), account_log.getvalue(), json.dumps(page)]
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    at_rest += [json.dumps(dynamodb.scan(TableName=table)["Items"]) for table in dynamodb.list_tables()["TableNames"]]
    at_rest += [
        s3.get_object(Bucket=bucket["Name"], Key=held["Key"])["Body"].read().decode(errors="replace")
        for bucket in s3.list_buckets()["Buckets"]
        for held in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
    ]
    assert created["keyId"] in at_rest[1]  # the logs did name the keys, by id
    assert not [text for text in at_rest for key in shown if key in text]


def test_sign_up_sign_in_rotate_and_the_old_key_is_retired_after_its_grace(
    aws, register, account_function, key_retirement, stripe_bridge, clock
):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    status, _, body = call(register, contract.ROUTE_REGISTER, {"email": email, "firstname": "Ada", "lastname": "L"})
    assert (status, body) == (202, {"status": "confirmation_sent"})
    confirm_token = last_link(email, "confirm")
    assert call(account_function, contract.ROUTE_LINK, {"token": confirm_token})[2] == {
        "kind": "sign-up",
        "email": email,
    }
    status, _, created = call(register, contract.ROUTE_SIGNUP_CONFIRM, {"token": confirm_token})
    assert status == 201 and aws.can_call(created["apikey"])
    usage_key_id = aws.usage_key_id(created["apikey"])
    apigateway = boto3.client("apigateway")
    assert apigateway.get_tags(resourceArn=f"arn:aws:apigateway:us-east-1::/apikeys/{usage_key_id}")["tags"] == {
        contract.API_KEY_OWNER_TAG: KEY_OWNER
    }
    assert call(account_function, contract.ROUTE_LINK, {"token": confirm_token})[0] == 410  # used

    assert call(account_function, contract.ROUTE_SIGNIN, {"email": email})[0] == 202
    assert call(account_function, contract.ROUTE_LINK, {"token": last_link(email, "signin")})[2] == {
        "kind": "sign-in",
        "email": email,
    }
    status, headers, _ = call(account_function, contract.ROUTE_SIGNIN_CONFIRM, {"token": last_link(email, "signin")})
    session = headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    status, _, page = call(account_function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)
    assert status == 200 and page["status"] == "active" and page["amountDue"] == {"amount": 0, "currency": "usd"}
    assert page["billableCalls"] == 0
    for _ in range(3):
        aws.usage_counter.take(usage_key_id)  # three calls the usage plan counted
    quota_left = aws.settings.plans[0].quota_limit - 3
    assert page_of(account_function, session)["quota"] == {
        "left": quota_left,
        "limit": aws.settings.plans[0].quota_limit,
    }

    gateway_keys = apigateway.get_api_keys(limit=500)["items"]
    status, _, rotated = call(account_function, contract.ROUTE_ACCOUNT_KEY_ROTATE, {}, cookie=session)
    assert status == 201 and rotated["rotatingOut"] == created["keyId"]
    assert aws.can_call(rotated["apikey"]) and aws.can_call(created["apikey"])  # the old one during its grace
    assert aws.usage_key_id(rotated["apikey"]) == usage_key_id  # one usage key: the quota is the account's
    assert apigateway.get_api_keys(limit=500)["items"] == gateway_keys  # no API Gateway call
    assert page_of(account_function, session)["quota"]["left"] == quota_left

    clock.advance(GRACE_SECONDS - 1)
    assert key_retirement.handler({}, LambdaContext()) == {"retired": 0, "skipped": 0, "failed": 0}  # a second left
    clock.advance(1)
    assert key_retirement.handler({}, LambdaContext()) == {"retired": 1, "skipped": 0, "failed": 0}
    assert not aws.can_call(created["apikey"]) and aws.can_call(rotated["apikey"])
    keys = call(account_function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)[2]["keys"]
    assert [(key["id"], key["hint"], key["state"]) for key in keys] == [
        (created["keyId"], created["keyHint"], contract.KEY_STATE_RETIRED),
        (rotated["keyId"], rotated["keyHint"], contract.KEY_STATE_ACTIVE),
    ]

    status, _, portal = call(account_function, contract.ROUTE_ACCOUNT_BILLING_PORTAL, {}, cookie=session)
    assert status == 200
    session_record = stripe_bridge.state.portal.sessions[portal["url"].rsplit("/", 1)[1]]
    assert session_record["customer"] == created["customerId"]
