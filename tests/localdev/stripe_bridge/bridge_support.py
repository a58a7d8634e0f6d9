"""What the bridge tests share besides fixtures: a raw POST (no SDK retries), and a webhook
receiver standing in for Tollgate's /stripe/webhook route."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from localdev.emulators import STRIPE_TEST_SECRET_KEY

KEY = STRIPE_TEST_SECRET_KEY


def raw_post(
    api_base: str, path: str, params: dict[str, str], idempotency_key: str | None = None, api_key: str = KEY
) -> tuple[int, dict[str, str], bytes]:
    """A POST without the SDK (no retries), to see exactly what the bridge answers."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-www-form-urlencoded"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(
        api_base + path, data=urllib.parse.urlencode(params).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def unique_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def customers_with_email(client: stripe.StripeClient, email: str) -> list[Any]:
    return list(client.v1.customers.list(params={"email": email, "limit": 100}).data)


@dataclass
class ReceivedWebhook:
    signature: str
    payload: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.payload)

    def verified(self, secret: str) -> stripe.Event:
        """The event as Tollgate's handler checks it (raises on a bad signature)."""
        return stripe.Webhook.construct_event(self.payload, self.signature, secret, tolerance=300)


class WebhookReceiver:
    """Records raw bodies and signatures, answers 200."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
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

    def wait_for(
        self,
        event_type: str,
        object_id: str,
        timeout: float = 5.0,
        after: int = 0,
        where: Callable[[dict[str, Any]], bool] = lambda _object: True,
    ) -> ReceivedWebhook:
        """localstripe sends its events 1 s late and the receiver is shared: match the object (and
        `where` it, among the webhooks received after the first `after`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for webhook in self.received[after:]:
                data_object = webhook.event["data"]["object"]
                if webhook.event["type"] == event_type and data_object.get("id") == object_id and where(data_object):
                    return webhook
            time.sleep(0.05)
        raise AssertionError(f"no {event_type} within {timeout} s; got {[w.event['type'] for w in self.received]}")
