"""The Stripe bridge (localdev/stripe_bridge.py) driven by the real `stripe` SDK.

Each section names the localstripe gap it covers (numbers as in the module docstring). The bridge
and localstripe are the session's emulators; every test creates its own objects.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from localdev.emulators import StripeBridge
from tollgate.contract import STRIPE_API_VERSION

KEY = "sk_test_tollgate"


def raw_post(api_base: str, path: str, params: dict[str, str], idempotency_key: str | None = None,
             api_key: str = KEY) -> tuple[int, dict[str, str], bytes]:
    """A POST without the SDK (no retries), to see exactly what the bridge answers."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-www-form-urlencoded"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(api_base + path, data=urllib.parse.urlencode(params).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def unique_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def customers_with_email(client: stripe.StripeClient, email: str) -> list[Any]:
    return list(client.v1.customers.list(params={"email": email, "limit": 100}).data)


@pytest.fixture
def product(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.products.create(params={"name": "Tollgate API", "metadata": {"tollgate": uuid.uuid4().hex}})


@pytest.fixture
def meter(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.billing.meters.create(params={
        "display_name": "API calls", "event_name": f"api_call_{uuid.uuid4().hex[:8]}",
        "default_aggregation": {"formula": "sum"}})


@pytest.fixture
def metered_price(stripe_client: stripe.StripeClient, product: Any, meter: Any) -> Any:
    return stripe_client.v1.prices.create(params={
        "currency": "usd", "product": product.id, "unit_amount_decimal": "0.5",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}})


@pytest.fixture
def customer(stripe_client: stripe.StripeClient) -> Any:
    return stripe_client.v1.customers.create(params={"email": unique_email(), "name": "Ada Lovelace"})


# --- gap 1: Idempotency-Key ----------------------------------------------------------------------


def test_idempotency_same_key_and_params_replays_the_first_response_byte_for_byte(stripe_api: str,
                                                                                 stripe_client: stripe.StripeClient):
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


def test_idempotency_concurrent_same_key_requests_create_one_object(stripe_api: str,
                                                                   stripe_client: stripe.StripeClient):
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
        ids = set(pool.map(lambda _: client.v1.customers.create(params={"email": email},
                                                                options={"idempotency_key": key}).id, range(6)))

    assert len(ids) == 1
    assert len(customers_with_email(client, email)) == 1


# --- gap 2: prices -------------------------------------------------------------------------------


def test_prices_metered_price_needs_a_meter(stripe_client: stripe.StripeClient, product: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.prices.create(params={"currency": "usd", "product": product.id, "unit_amount": 1,
                                               "recurring": {"interval": "month", "usage_type": "metered"}})
    assert raised.value.param == "recurring[meter]"


def test_prices_metered_price_is_backed_by_a_localstripe_plan_with_the_same_id(
        stripe_client: stripe.StripeClient, metered_price: Any, meter: Any, product: Any):
    assert metered_price.id.startswith("price_")
    assert metered_price.recurring.usage_type == "metered"
    assert metered_price.recurring.meter == meter.id
    assert metered_price.unit_amount_decimal == Decimal("0.5")
    assert metered_price.type == "recurring"

    plan = stripe_client.v1.plans.retrieve(metered_price.id)
    assert plan.product == product.id and plan.usage_type == "metered"


@pytest.mark.parametrize("pricing", [
    pytest.param({"billing_scheme": "tiered", "tiers_mode": "graduated",
                  "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.2"}]},
                 id="graduated"),
    pytest.param({"billing_scheme": "tiered", "tiers_mode": "volume",
                  "tiers": [{"up_to": 10000, "unit_amount": 1, "flat_amount": 500}, {"up_to": "inf", "unit_amount": 0}]},
                 id="volume"),
    pytest.param({"unit_amount": 100, "transform_quantity": {"divide_by": 1000, "round": "up"}}, id="package"),
    pytest.param({"unit_amount": 2}, id="per_unit"),
])
def test_prices_every_pricing_model_round_trips(stripe_client: stripe.StripeClient, product: Any, meter: Any,
                                                pricing: dict[str, Any]):
    created = stripe_client.v1.prices.create(params={
        "currency": "usd", "product": product.id, "metadata": {"model": "x"},
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}, **pricing})
    fetched = stripe_client.v1.prices.retrieve(created.id)

    assert fetched.to_dict() == created.to_dict()
    assert fetched.billing_scheme == pricing.get("billing_scheme", "per_unit")
    if "tiers" in pricing:
        assert fetched.tiers_mode == pricing["tiers_mode"]
        assert fetched.tiers[-1].up_to is None
    if "transform_quantity" in pricing:
        assert fetched.transform_quantity.divide_by == 1000 and fetched.transform_quantity.round == "up"


def test_prices_invalid_tiers_are_rejected(stripe_client: stripe.StripeClient, product: Any, meter: Any):
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.prices.create(params={
            "currency": "usd", "product": product.id, "billing_scheme": "tiered", "tiers_mode": "graduated",
            "tiers": [{"up_to": "inf", "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}],
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}})


def test_prices_list_filters_by_lookup_keys_product_active_and_recurring(stripe_client: stripe.StripeClient,
                                                                       product: Any, meter: Any):
    lookup_key = f"tollgate-{uuid.uuid4().hex[:8]}"
    metered = stripe_client.v1.prices.create(params={
        "currency": "usd", "product": product.id, "unit_amount": 1, "lookup_key": lookup_key,
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}})
    licensed = stripe_client.v1.prices.create(params={
        "currency": "usd", "product": product.id, "unit_amount": 900, "active": False,
        "recurring": {"interval": "month"}})

    by_key = stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key], "expand": ["data.product"]})
    assert [p.id for p in by_key.data] == [metered.id]
    assert by_key.data[0].product.id == product.id
    assert [p.id for p in stripe_client.v1.prices.list(params={"product": product.id}).data] == [licensed.id, metered.id]
    assert [p.id for p in stripe_client.v1.prices.list(params={"product": product.id, "active": True}).data] == [metered.id]
    metered_only = stripe_client.v1.prices.list(params={"product": product.id, "recurring": {"usage_type": "metered"}})
    assert [p.id for p in metered_only.data] == [metered.id]


def test_prices_lookup_key_is_unique_unless_transferred(stripe_client: stripe.StripeClient, product: Any):
    lookup_key = f"tollgate-{uuid.uuid4().hex[:8]}"
    params = {"currency": "usd", "product": product.id, "unit_amount": 5, "lookup_key": lookup_key}
    first = stripe_client.v1.prices.create(params=params)

    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        stripe_client.v1.prices.create(params=params)
    second = stripe_client.v1.prices.create(params={**params, "transfer_lookup_key": True})

    assert stripe_client.v1.prices.retrieve(first.id).lookup_key is None
    assert [p.id for p in stripe_client.v1.prices.list(params={"lookup_keys": [lookup_key]}).data] == [second.id]


def test_prices_unknown_price_is_resource_missing(stripe_client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.prices.retrieve("price_nope")
    assert raised.value.http_status == 404 and raised.value.code == "resource_missing"


# --- gaps 3 + 4: subscriptions on a price, no payment method for a metered price ------------------


def test_subscriptions_on_a_metered_price_need_no_payment_method_and_show_the_price(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any):
    subscription = stripe_client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": metered_price.id}], "metadata": {"awsAPIKeyId": "k1"}})

    assert subscription.status == "active"
    assert subscription["items"].data[0].price.id == metered_price.id
    assert stripe_client.v1.subscriptions.retrieve(subscription.id)["items"].data[0].price.id == metered_price.id
    assert not stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data


def test_subscriptions_cancel_returns_canceled_with_the_price(stripe_client: stripe.StripeClient, customer: Any,
                                                              metered_price: Any):
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})
    canceled = stripe_client.v1.subscriptions.cancel(subscription.id)

    assert canceled.status == "canceled"
    assert canceled["items"].data[0].price.id == metered_price.id


def test_subscriptions_licensed_price_keeps_localstripe_payment_method_rule(stripe_client: stripe.StripeClient,
                                                                          customer: Any, product: Any):
    """Only metered prices get the $0 backing plan; a $9 licensed price still needs a card."""
    licensed = stripe_client.v1.prices.create(params={"currency": "usd", "product": product.id, "unit_amount": 900,
                                                      "recurring": {"interval": "month"}})
    with pytest.raises(stripe.InvalidRequestError, match="no payment method"):
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": licensed.id}]})


def test_subscriptions_unknown_price_is_resource_missing(stripe_client: stripe.StripeClient, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": "price_nope"}]})
    assert raised.value.param == "items[0][price]"


# --- gap 5: billing meters and meter events ----------------------------------------------------


def test_meters_create_list_retrieve_with_their_settings(stripe_client: stripe.StripeClient):
    event_name = f"calls_{uuid.uuid4().hex[:8]}"
    created = stripe_client.v1.billing.meters.create(params={
        "display_name": "Calls", "event_name": event_name, "default_aggregation": {"formula": "count"},
        "customer_mapping": {"event_payload_key": "customer", "type": "by_id"},
        "value_settings": {"event_payload_key": "calls"}})

    assert created.id.startswith("mtr_") and created.status == "active"
    assert created.customer_mapping.event_payload_key == "customer"
    assert created.value_settings.event_payload_key == "calls"
    assert stripe_client.v1.billing.meters.retrieve(created.id).to_dict() == created.to_dict()
    assert created.id in [m.id for m in stripe_client.v1.billing.meters.list(params={"status": "active", "limit": 100})]
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        stripe_client.v1.billing.meters.create(params={"display_name": "Again", "event_name": event_name,
                                                       "default_aggregation": {"formula": "sum"}})


def test_meter_events_are_stored_and_deduplicated_by_identifier(stripe_client: stripe.StripeClient,
                                                                stripe_bridge: StripeBridge, meter: Any,
                                                                customer: Any):
    params = {"event_name": meter.event_name, "identifier": f"req-{uuid.uuid4()}",
              "payload": {"stripe_customer_id": customer.id, "value": "3"}}
    event = stripe_client.v1.billing.meter_events.create(params=params)

    assert event.identifier == params["identifier"] and event.payload["value"] == "3"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.billing.meter_events.create(params=params)
    assert raised.value.code == "duplicate_meter_event"
    stored = [e for e in stripe_bridge.state.meter_events if e["identifier"] == params["identifier"]]
    assert len(stored) == 1


def test_meter_events_need_an_active_meter_and_a_numeric_value(stripe_client: stripe.StripeClient, meter: Any,
                                                              customer: Any):
    with pytest.raises(stripe.InvalidRequestError, match="No active meter"):
        stripe_client.v1.billing.meter_events.create(params={
            "event_name": "no_such_meter", "payload": {"stripe_customer_id": customer.id, "value": "1"}})
    with pytest.raises(stripe.InvalidRequestError, match="must be a number"):
        stripe_client.v1.billing.meter_events.create(params={
            "event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "many"}})


# --- gap 6: search ------------------------------------------------------------------------------


def test_search_finds_products_and_customers_by_metadata(stripe_client: stripe.StripeClient, product: Any):
    marker = product.metadata["tollgate"]
    found = stripe_client.v1.products.search(params={"query": f"metadata['tollgate']:'{marker}' AND active:'true'"})
    assert [p.id for p in found.data] == [product.id]

    email = unique_email()
    customer = stripe_client.v1.customers.create(params={"email": email, "metadata": {"awsAPIKeyId": marker}})
    by_email = stripe_client.v1.customers.search(params={"query": f"email:'{email}'"})
    by_key = stripe_client.v1.customers.search(params={"query": f"metadata['awsAPIKeyId']:'{marker}'"})
    assert [c.id for c in by_email.data] == [c.id for c in by_key.data] == [customer.id]


# --- webhook receiver used by gaps 7 and 8 --------------------------------------------------------


@dataclass
class ReceivedWebhook:
    signature: str
    payload: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.payload)


class WebhookReceiver:
    """A stand-in for the Stripe webhook handler: records raw bodies and signatures, answers 200."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(ReceivedWebhook(self.headers.get("Stripe-Signature", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhook"

    def wait_for(self, event_type: str, object_id: str, timeout: float = 5.0) -> ReceivedWebhook:
        """localstripe sends its events 1 s late, so earlier tests' events may arrive too: match the object."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for webhook in self.received:
                if webhook.event["type"] == event_type and webhook.event["data"]["object"].get("id") == object_id:
                    return webhook
            time.sleep(0.05)
        raise AssertionError(f"no {event_type} within {timeout} s; got {[w.event['type'] for w in self.received]}")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join()


@pytest.fixture
def webhook_endpoint(stripe_client: stripe.StripeClient, webhook_receiver: WebhookReceiver) -> Iterator[Any]:
    endpoint = stripe_client.v1.webhook_endpoints.create(params={"url": webhook_receiver.url,
                                                                 "enabled_events": ["*"]})
    yield endpoint
    stripe_client.v1.webhook_endpoints.delete(endpoint.id)


def verified(webhook: ReceivedWebhook, secret: str) -> stripe.Event:
    return stripe.Webhook.construct_event(webhook.payload, webhook.signature, secret, tolerance=300)


# --- gap 7: checkout ----------------------------------------------------------------------------


def open_setup_session(client: stripe.StripeClient, customer: Any) -> Any:
    return client.v1.checkout.sessions.create(params={
        "mode": "setup", "customer": customer.id, "currency": "usd",
        "success_url": "http://127.0.0.1:8000/?checkout=done&session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/?checkout=cancel"})


def test_checkout_setup_session_points_at_a_page_on_the_bridge(stripe_client: stripe.StripeClient,
                                                               stripe_api: str, customer: Any):
    session = open_setup_session(stripe_client, customer)

    assert session.id.startswith("cs_test_") and session.status == "open" and session.mode == "setup"
    assert session.url == f"{stripe_api}/_bridge/checkout/{session.id}"
    with urllib.request.urlopen(session.url, timeout=5) as page:
        html = page.read().decode()
    assert f'action="/_bridge/checkout/{session.id}/complete"' in html and "Complete" in html
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).to_dict() == session.to_dict()


def test_checkout_completion_saves_a_card_and_sends_a_signed_completed_event(
        stripe_client: stripe.StripeClient, stripe_api: str, customer: Any, webhook_endpoint: Any,
        webhook_receiver: WebhookReceiver):
    session = open_setup_session(stripe_client, customer)

    status, _, body = raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {})
    assert status == 200
    deliveries = json.loads(body)["deliveries"]
    assert [d["status"] for d in deliveries if d["endpoint_id"] == webhook_endpoint.id] == [200]

    event = verified(webhook_receiver.wait_for("checkout.session.completed", session.id), webhook_endpoint.secret)
    completed = event.data.object
    assert completed.id == session.id and completed.mode == "setup" and completed.customer == customer.id
    assert event.api_version == STRIPE_API_VERSION
    setup_intent = stripe_client.v1.setup_intents.retrieve(completed.setup_intent)
    assert setup_intent.id.startswith("seti_") and setup_intent.status == "succeeded"
    cards = stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data
    assert [card.id for card in cards] == [setup_intent.payment_method]
    refreshed = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    assert refreshed.status == "complete" and refreshed.setup_intent.id == setup_intent.id
    assert stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None


def test_checkout_page_form_completes_and_redirects_to_success_url(stripe_client: stripe.StripeClient,
                                                                   stripe_api: str, customer: Any):
    session = open_setup_session(stripe_client, customer)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    request = urllib.request.Request(f"{stripe_api}/_bridge/checkout/{session.id}/complete",
                                     data=b"redirect=true", method="POST")
    with pytest.raises(urllib.error.HTTPError) as redirected:
        urllib.request.build_opener(NoRedirect).open(request, timeout=5)
    assert redirected.value.code == 303
    assert redirected.value.headers["Location"] == f"http://127.0.0.1:8000/?checkout=done&session={session.id}"
    assert raw_post(stripe_api, f"/_bridge/checkout/{session.id}/complete", {})[0] == 400  # only once


def test_checkout_rejects_modes_other_than_setup(stripe_client: stripe.StripeClient, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.checkout.sessions.create(params={"mode": "payment", "customer": customer.id,
                                                          "success_url": "http://127.0.0.1/ok"})
    assert raised.value.param == "mode"


# --- gap 8: webhook endpoints and localstripe's own events ------------------------------------


def test_webhook_endpoints_secret_shown_once_and_listed(stripe_client: stripe.StripeClient, webhook_endpoint: Any):
    assert webhook_endpoint.secret.startswith("whsec_")
    listed = {e.id: e for e in stripe_client.v1.webhook_endpoints.list(params={"limit": 100})}
    assert listed[webhook_endpoint.id].url == webhook_endpoint.url
    assert "secret" not in stripe_client.v1.webhook_endpoints.retrieve(webhook_endpoint.id)


def test_webhook_localstripe_events_reach_the_endpoint_with_a_valid_signature(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any, webhook_endpoint: Any,
        webhook_receiver: WebhookReceiver):
    """localstripe signs `t.payload` with HMAC-SHA256 like Stripe: stripe 16 accepts it as is."""
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})
    stripe_client.v1.subscriptions.cancel(subscription.id)

    deleted = verified(webhook_receiver.wait_for("customer.subscription.deleted", subscription.id), webhook_endpoint.secret)
    assert deleted.data.object.id == subscription.id and deleted.data.object.status == "canceled"
    with pytest.raises(stripe.SignatureVerificationError):
        verified(webhook_receiver.received[-1], "whsec_wrong")


def test_webhook_bridge_events_can_be_sent_by_tests(stripe_bridge: StripeBridge, webhook_endpoint: Any,
                                                    webhook_receiver: WebhookReceiver):
    deliveries = stripe_bridge.send_event("customer.subscription.updated", {"id": "sub_x", "status": "past_due"},
                                          previous_attributes={"status": "active"})

    assert [d.status for d in deliveries if d.endpoint_id == webhook_endpoint.id] == [200]
    event = verified(webhook_receiver.wait_for("customer.subscription.updated", "sub_x"), webhook_endpoint.secret)
    assert event.data.object.status == "past_due" and event.data.previous_attributes.status == "active"


def test_webhook_deleted_endpoint_receives_nothing_more(stripe_client: stripe.StripeClient,
                                                        stripe_bridge: StripeBridge,
                                                        webhook_receiver: WebhookReceiver, customer: Any,
                                                        metered_price: Any):
    endpoint = stripe_client.v1.webhook_endpoints.create(params={"url": webhook_receiver.url,
                                                                 "enabled_events": ["customer.subscription.deleted"]})
    assert stripe_client.v1.webhook_endpoints.delete(endpoint.id).deleted

    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})
    stripe_client.v1.subscriptions.cancel(subscription.id)
    deliveries = stripe_bridge.send_event("customer.subscription.deleted", {"id": subscription.id})
    assert [d for d in deliveries if d.url == webhook_receiver.url] == []
    time.sleep(1.5)  # localstripe waits 1 s before it sends its own events
    assert webhook_receiver.received == []


# --- gap 9: customer.subscription.updated and invoice.paid ----------------------------------------


def test_events_subscription_update_sends_updated_with_previous_attributes(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any, webhook_endpoint: Any,
        webhook_receiver: WebhookReceiver):
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})

    updated = stripe_client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})

    assert updated["items"].data[0].price.id == metered_price.id
    event = verified(webhook_receiver.wait_for("customer.subscription.updated", subscription.id),
                     webhook_endpoint.secret)
    assert event.data.object.cancel_at_period_end is True
    assert event.data.previous_attributes.to_dict() == {"cancel_at_period_end": False}


def test_events_new_subscription_sends_invoice_paid_for_its_first_invoice(
        stripe_client: stripe.StripeClient, customer: Any, metered_price: Any, webhook_endpoint: Any,
        webhook_receiver: WebhookReceiver):
    subscription = stripe_client.v1.subscriptions.create(params={"customer": customer.id,
                                                                 "items": [{"price": metered_price.id}]})

    event = verified(webhook_receiver.wait_for("invoice.paid", subscription.latest_invoice), webhook_endpoint.secret)
    assert event.data.object.status == "paid" and event.data.object.customer == customer.id
    assert event.data.object.parent.subscription_details.subscription == subscription.id
