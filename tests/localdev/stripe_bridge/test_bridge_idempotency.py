"""Gap 1 (localdev/stripe_bridge/idempotency.py): Idempotency-Key, as Stripe honours it."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from bridge_support import KEY, customers_with_email, raw_post, unique_email

from localdev.stripe_bridge.core import StripeError, stripe_errors
from localdev.stripe_bridge.idempotency import IdempotencyState, idempotency_middleware


def test_idempotency_same_key_and_params_replays_the_first_response_byte_for_byte(
    stripe_api: str, stripe_client: stripe.StripeClient
):
    email, key = unique_email(), str(uuid.uuid4())
    first = raw_post(stripe_api, "/v1/customers", {"email": email}, key)
    again = raw_post(stripe_api, "/v1/customers", {"email": email}, key)

    assert first[0] == again[0] == 200
    assert again[2] == first[2]
    assert again[1].get("Idempotent-Replayed") == "true"
    assert len(customers_with_email(stripe_client, email)) == 1


def test_idempotency_through_the_sdk_returns_the_same_customer(stripe_client: stripe.StripeClient):
    email, key = unique_email(), f"register-{uuid.uuid4()}"
    first = stripe_client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})
    second = stripe_client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})

    assert second.id == first.id
    assert len(customers_with_email(stripe_client, email)) == 1


def test_idempotency_same_key_with_other_params_is_an_idempotency_error(stripe_client: stripe.StripeClient):
    key = str(uuid.uuid4())
    stripe_client.v1.customers.create(params={"email": unique_email()}, options={"idempotency_key": key})

    with pytest.raises(stripe.IdempotencyError) as raised:
        stripe_client.v1.customers.create(params={"email": unique_email()}, options={"idempotency_key": key})
    assert raised.value.http_status == 400
    assert "same parameters" in str(raised.value)


def test_idempotency_keys_are_scoped_per_api_key(stripe_api: str):
    key, email = str(uuid.uuid4()), unique_email()
    first = json.loads(raw_post(stripe_api, "/v1/customers", {"email": email}, key)[2])
    other_account = json.loads(raw_post(stripe_api, "/v1/customers", {"email": email}, key, api_key="sk_test_other")[2])

    assert other_account["id"] != first["id"]


def test_idempotency_concurrent_same_key_requests_create_one_object(
    stripe_api: str, stripe_client: stripe.StripeClient
):
    email, key = unique_email(), str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: raw_post(stripe_api, "/v1/customers", {"email": email}, key), range(8)))

    assert len(customers_with_email(stripe_client, email)) == 1
    assert {status for status, _, _ in answers} <= {200, 409}
    created = {json.loads(body)["id"] for status, _, body in answers if status == 200}
    assert len(created) == 1
    conflicts = [json.loads(body)["error"] for status, _, body in answers if status == 409]
    assert all(error["type"] == "idempotency_error" for error in conflicts)


def test_idempotency_concurrent_sdk_calls_all_get_the_one_customer(stripe_api: str):
    """The SDK retries Stripe's 409 for an in-flight key, so every caller ends with the same object."""
    client = stripe.StripeClient(KEY, base_addresses={"api": stripe_api}, max_network_retries=5)
    email, key = unique_email(), str(uuid.uuid4())
    with ThreadPoolExecutor(6) as pool:
        ids = set(
            pool.map(
                lambda _: client.v1.customers.create(params={"email": email}, options={"idempotency_key": key}).id,
                range(6),
            )
        )

    assert len(ids) == 1
    assert len(customers_with_email(client, email)) == 1


def test_idempotency_a_5xx_answer_is_saved_and_replayed_like_stripe():
    """Stripe saves the answer once the endpoint has started, 500s included; it does not save a
    request that failed validation. A stand-in endpoint fails the way localstripe could."""
    calls: list[str] = []

    async def flaky_create(request: web.Request) -> web.Response:
        calls.append(await request.text())
        if "invalid" in calls[-1]:
            raise StripeError(400, "Invalid email", param="email")
        return web.json_response({"error": {"type": "api_error", "message": "boom"}}, status=500)

    async def scenario() -> list[tuple[int, str | None]]:
        app = web.Application(middlewares=[stripe_errors, idempotency_middleware(IdempotencyState())])
        app.router.add_post("/v1/customers", flaky_create)
        async with TestClient(TestServer(app)) as client:
            answers = []
            for body, key in (
                ("email=invalid", "k-validation"),
                ("email=ok", "k-validation"),
                ("email=ok", "k-500"),
                ("email=ok", "k-500"),
            ):
                response = await client.post(
                    "/v1/customers",
                    data=body,
                    headers={"Idempotency-Key": key, "Content-Type": "application/x-www-form-urlencoded"},
                )
                answers.append((response.status, response.headers.get("Idempotent-Replayed")))
            return answers

    answers = asyncio.run(scenario())

    assert answers == [(400, None), (500, None), (500, None), (500, "true")]
    assert calls == ["email=invalid", "email=ok", "email=ok"]  # the replayed 500 did not run again
