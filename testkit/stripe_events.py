"""Stripe events as Stripe sends them to /stripe/webhook: the JSON of an event, signed with the
stripe SDK's own scheme (`t=...,v1=HMAC-SHA256`), delivered to a deployed webhook handler."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import stripe

from testkit.lambda_events import api_gateway_event, invoke
from testkit.moto_stack import WEBHOOK_SECRET
from tollgate import contract


def stripe_event(event_type: str, data_object: dict, created: int | None = None) -> str:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "api_version": contract.STRIPE_API_VERSION,
            "created": int(time.time()) if created is None else created,
            "type": event_type,
            "data": {"object": data_object},
        }
    )


def deliver(
    module: Any,
    payload: str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
    base64_encoded: bool = False,
) -> tuple[int, dict[str, str], Any]:
    """POST the event to the webhook handler `module` as API Gateway hands Stripe's delivery over."""
    header = (
        signature
        if signature is not None
        else stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    )
    body = base64.b64encode(payload.encode()).decode() if base64_encoded else payload
    event = api_gateway_event(
        body,
        path=contract.ROUTE_STRIPE_WEBHOOK,
        base64_encoded=base64_encoded,
        headers={"Stripe-Signature": header} if header else {},
    )
    return invoke(module, event)
