"""POST /register end to end: an API Gateway-shaped event through the real handler, its real
adapters and the emulators (moto in-process, localstripe behind the bridge, Moesif collector)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from testkit.lambda_events import REGISTER_MODULE, api_gateway_event, cors_headers, deployed, invoke
from tollgate import contract


def sign_up_body(email: str | None = None, **fields) -> str:
    return json.dumps(
        {"email": email or f"{uuid.uuid4().hex[:10]}@example.com", "firstname": "Ann", "lastname": "Lee"} | fields
    )


def register(module, body, headers=None):
    return invoke(module, api_gateway_event(body, headers=headers))


def usage_plan_key_ids(aws) -> set[str]:
    keys = boto3.client("apigateway").get_usage_plan_keys(usagePlanId=aws.usage_plan_id)["items"]
    return {key["id"] for key in keys}


def api_key_ids() -> set[str]:
    return {key["id"] for key in boto3.client("apigateway").get_api_keys()["items"]}


def account_item(aws, email: str) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=aws.accounts_table, Key={"email": {"S": email}}).get("Item")


def test_a_sign_up_answers_201_with_a_working_billed_key(register_module, aws, stripe_client, clean_moesif):
    status, headers, body = register(register_module, sign_up_body("  Ann.Lee@Example.com "))

    assert status == 201, body
    assert set(body) == {
        "apikey",
        "keyId",
        "keyHint",
        "accountId",
        "customerId",
        "subscriptionId",
        "status",
        "plan",
        "addPaymentMethod",
    }
    assert body["status"] == "active" and body["plan"] == "standard"  # the default plan: the page names it
    assert not cors_headers(headers)
    assert headers["Cache-Control"] == "no-store"
    row = account_item(aws, "ann.lee@example.com")
    usage_key_id = row["apiKeyId"]["S"]  # the account's API Gateway key: never shown
    key = boto3.client("apigateway").get_api_key(apiKey=usage_key_id, includeValue=True)
    assert key["value"] != body["apikey"] and key["enabled"] and usage_key_id in usage_plan_key_ids(aws)
    item = boto3.client("dynamodb").get_item(
        TableName=aws.keys_table,
        Key={contract.KEYS_PARTITION_KEY: {"S": hashlib.sha256(body["apikey"].encode()).hexdigest()}},
    )["Item"]
    assert (
        item[contract.KEYS_ATTR_KEY_ID]["S"],
        item[contract.KEYS_ATTR_ACCOUNT_ID]["S"],
        item[contract.KEYS_ATTR_USAGE_KEY]["S"],
        item[contract.KEYS_ATTR_ACCOUNT_STATUS]["S"],
    ) == (body["keyId"], body["accountId"], key["value"], "active")
    customer = stripe_client.v1.customers.retrieve(body["customerId"])
    assert customer.email == "ann.lee@example.com"
    assert customer.metadata[contract.STRIPE_CUSTOMER_METADATA_API_KEY_ID] == usage_key_id
    subscription = stripe_client.v1.subscriptions.retrieve(body["subscriptionId"])
    assert subscription.customer == body["customerId"] and subscription.status == "active"
    (user,) = clean_moesif.users()
    assert (user["user_id"], user["company_id"]) == (body["accountId"], body["subscriptionId"])
    assert user["metadata"] == {"email": "ann.lee@example.com", "first_name": "Ann", "last_name": "Lee"}
    (company,) = clean_moesif.companies()
    assert company["company_id"] == body["subscriptionId"]
    assert row["status"]["S"] == "active" and row["accountId"]["S"] == body["accountId"]


def test_a_free_sign_up_names_its_plan_so_the_page_can_say_no_card_is_needed(register_module, stripe_client):
    status, _, body = register(register_module, sign_up_body(plan="free"))

    assert status == 201, body
    assert (body["plan"], body["status"], body["subscriptionId"]) == ("free", "active", None)
    assert stripe_client.v1.customers.retrieve(body["customerId"]).email.endswith("@example.com")


def test_moesif_requests_carry_the_application_id_header(register_module, clean_moesif):
    status, _, _ = register(register_module, sign_up_body())

    assert status == 201
    requests = clean_moesif.requests()
    assert {request.path for request in requests} == {"/v1/users", "/v1/companies"}
    assert all(request.header("X-Moesif-Application-Id") == "moesif-test-application" for request in requests)


def test_a_second_sign_up_with_the_same_email_is_409_and_reveals_nothing(register_module, stripe_client):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert register(register_module, sign_up_body(email))[0] == 201
    keys_before = api_key_ids()

    status, _, body = register(register_module, sign_up_body(email.upper(), firstname="Other"))

    assert status == 409
    assert body == {"error": "This email already has an account.", "fields": {"email": "already has an account"}}
    assert api_key_ids() == keys_before
    assert len(stripe_client.v1.customers.list({"email": email}).data) == 1


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(register_module, aws):
    headers = {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    body = sign_up_body()

    first = register(register_module, body, headers)
    replay = register(register_module, body, headers)

    assert first[0] == replay[0] == 201
    # The same answer without the key, which nothing stored: it was shown once.
    assert (
        replay[2] == {**first[2], "apikey": None, "keyNote": replay[2]["keyNote"]} and "rotate" in replay[2]["keyNote"]
    )
    stored = boto3.client("dynamodb").scan(TableName=aws.idempotency_table)["Items"]
    assert stored and first[2]["apikey"] not in json.dumps(stored)
    assert first[2]["keyId"] in json.dumps(stored)


def test_a_replay_gives_the_key_only_within_the_short_window_then_409_without_it(register_module, aws):
    headers = {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    body = sign_up_body()
    first = register(register_module, body, headers)
    dynamodb = boto3.client("dynamodb")
    (record,) = [
        item
        for item in dynamodb.scan(TableName=aws.idempotency_table)["Items"]
        if first[2]["keyId"] in json.dumps(item)
    ]
    expiry = int(record[contract.IDEMPOTENCY_TTL_ATTRIBUTE]["N"])
    assert abs(expiry - (time.time() + contract.SIGN_UP_REPLAY_SECONDS)) < 30

    record[contract.IDEMPOTENCY_TTL_ATTRIBUTE] = {"N": str(int(time.time()) - 1)}  # the window has passed
    dynamodb.put_item(TableName=aws.idempotency_table, Item=record)
    status, _, late = register(register_module, body, headers)

    assert status == 409 and "apikey" not in late and first[2]["apikey"] not in json.dumps(late)


def test_an_idempotency_key_reused_with_another_body_is_rejected(register_module):
    headers = {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    assert register(register_module, sign_up_body(), headers)[0] == 201

    status, _, body = register(register_module, sign_up_body(), headers)

    assert status == 422
    assert contract.IDEMPOTENCY_HEADER in body["fields"]


def test_a_duplicate_while_the_first_is_in_flight_is_409_and_creates_nothing(register_module, monkeypatch):
    headers = {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    body = sign_up_body()
    inside, release = threading.Event(), threading.Event()
    create_key = register_module.wiring.api_keys.create_key

    def slow_create_key(name, description):
        inside.set()
        release.wait(10)
        return create_key(name, description)

    monkeypatch.setattr(register_module.wiring.api_keys, "create_key", slow_create_key)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(register, register_module, body, headers)
        assert inside.wait(10)
        duplicate = register(register_module, body, headers)
        release.set()
        assert first.result()[0] == 201

    assert duplicate[0] == 409 and "already being processed" in duplicate[2]["error"]
    assert duplicate[1]["Retry-After"] == "5"


def test_twenty_simultaneous_sign_ups_of_one_email_make_one_account(register_module, stripe_client, aws):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    keys_before = api_key_ids()
    start = threading.Barrier(20)

    def sign_up(n):
        start.wait()
        return register(register_module, sign_up_body(email), {contract.IDEMPOTENCY_HEADER: f"{email}-{n}"})

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(sign_up, range(20)))

    statuses = sorted(status for status, _, _ in outcomes)
    assert statuses == [201] + [409] * 19
    (winner,) = [body for status, _, body in outcomes if status == 201]
    assert api_key_ids() - keys_before == {account_item(aws, email)["apiKeyId"]["S"]}
    assert [c.id for c in stripe_client.v1.customers.list({"email": email}).data] == [winner["customerId"]]
    assert account_item(aws, email)["accountId"]["S"] == winner["accountId"]


def test_a_downstream_failure_is_503_and_leaves_nothing_behind(register_module, aws, stripe_client, clean_moesif):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    keys_before, plan_before = api_key_ids(), usage_plan_key_ids(aws)
    clean_moesif.fail_next(503, count=10, path_prefix="/v1/users")

    status, headers, body = register(register_module, sign_up_body(email))

    assert status == 503 and "try again in a minute" in body["error"]
    assert headers["Retry-After"] == "60"
    assert api_key_ids() == keys_before and usage_plan_key_ids(aws) == plan_before
    assert stripe_client.v1.customers.list({"email": email}).data == []
    assert account_item(aws, email) is None
    clean_moesif.reset()
    assert register(register_module, sign_up_body(email))[0] == 201


def test_a_downstream_refusal_is_502_without_retry_after_and_leaves_nothing_behind(
    register_module, aws, stripe_client, clean_moesif
):
    """503 + Retry-After: the service was unreachable, throttled or failing, trying again works.
    502: it refused our request (a 4xx), the deployment needs a fix, so no Retry-After."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    keys_before = api_key_ids()
    clean_moesif.fail_next(400, path_prefix="/v1/companies")

    status, headers, body = register(register_module, sign_up_body(email))

    assert status == 502 and "Retry-After" not in headers
    assert "Nothing was created or charged" in body["error"]
    assert api_key_ids() == keys_before
    assert stripe_client.v1.customers.list({"email": email}).data == []
    assert account_item(aws, email) is None


@pytest.mark.parametrize("secret", [contract.ENV_STRIPE_SECRET_ARN, contract.ENV_MOESIF_SECRET_ARN])
def test_a_secret_still_holding_the_placeholder_is_503_and_creates_nothing(
    aws, stripe_api, moesif_collector, price_id, secret
):
    placeholder_arn = boto3.client("secretsmanager").create_secret(
        Name=f"tollgate-placeholder-{uuid.uuid4().hex[:6]}",
        SecretString=json.dumps(
            {
                field: contract.SECRET_PLACEHOLDER
                for field in (*contract.STRIPE_SECRET_FIELDS, *contract.MOESIF_SECRET_FIELDS)
            }
        ),
    )["ARN"]
    environment = aws.environment(stripe_api, moesif_collector.base_url, price_id) | {secret: placeholder_arn}
    keys_before = api_key_ids()
    module = deployed(REGISTER_MODULE, environment)

    status, headers, body = register(module, sign_up_body())

    assert status == 503 and headers["Retry-After"] == "60"
    assert body["error"] == "Sign-up is temporarily unavailable; please try again later."
    assert api_key_ids() == keys_before


@pytest.fixture
def log_output(register_module):
    with register_module.captured_logs() as logs:
        yield logs


def test_the_key_value_never_reaches_logs_moesif_or_any_table(register_module, aws, clean_moesif, log_output):
    """Done-when of issue 20, the sign-up's part (rotation, use and revocation: make dev's test): the
    key is in the answer and nowhere at rest."""
    headers = {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    body = sign_up_body()
    _, _, first = register(register_module, body, headers)
    register(register_module, body, headers)  # a replay logs too
    register(register_module, body)  # and a 409

    logs = log_output.getvalue()
    assert '"correlation_id"' in logs and first["keyId"] in logs  # the logger did write
    assert "Replaying" in logs
    assert first["apikey"] not in logs
    sent = json.dumps([request.as_dict() for request in clean_moesif.requests()])
    assert first["accountId"] in sent and first["apikey"] not in sent
    dynamodb = boto3.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        assert first["apikey"] not in json.dumps(dynamodb.scan(TableName=table)["Items"]), table
