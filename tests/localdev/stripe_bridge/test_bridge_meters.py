"""Gap 5 (localdev/stripe_bridge/meters.py): billing meters and meter events."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import stripe

from localdev.emulators import StripeBridge


def test_meters_create_list_retrieve_with_their_settings(stripe_client: stripe.StripeClient):
    event_name = f"calls_{uuid.uuid4().hex[:8]}"
    created = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Calls",
            "event_name": event_name,
            "default_aggregation": {"formula": "count"},
            "customer_mapping": {"event_payload_key": "customer", "type": "by_id"},
            "value_settings": {"event_payload_key": "calls"},
        }
    )

    assert created.id.startswith("mtr_") and created.status == "active"
    assert created.customer_mapping.event_payload_key == "customer"
    assert created.value_settings.event_payload_key == "calls"
    assert stripe_client.v1.billing.meters.retrieve(created.id).to_dict() == created.to_dict()
    assert created.id in [m.id for m in stripe_client.v1.billing.meters.list(params={"status": "active", "limit": 100})]
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        stripe_client.v1.billing.meters.create(
            params={"display_name": "Again", "event_name": event_name, "default_aggregation": {"formula": "sum"}}
        )


def test_meter_events_are_stored_and_deduplicated_by_identifier(
    stripe_client: stripe.StripeClient, stripe_bridge: StripeBridge, meter: Any, customer: Any
):
    params = {
        "event_name": meter.event_name,
        "identifier": f"req-{uuid.uuid4()}",
        "payload": {"stripe_customer_id": customer.id, "value": "3"},
    }
    event = stripe_client.v1.billing.meter_events.create(params=params)

    assert event.identifier == params["identifier"] and event.payload["value"] == "3"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.billing.meter_events.create(params=params)
    assert raised.value.code == "duplicate_meter_event"
    stored = [e for e in stripe_bridge.state.meters.events if e["identifier"] == params["identifier"]]
    assert len(stored) == 1


def test_meter_events_need_an_active_meter_and_a_numeric_value(
    stripe_client: stripe.StripeClient, meter: Any, customer: Any
):
    with pytest.raises(stripe.InvalidRequestError, match="No active meter"):
        stripe_client.v1.billing.meter_events.create(
            params={"event_name": "no_such_meter", "payload": {"stripe_customer_id": customer.id, "value": "1"}}
        )
    with pytest.raises(stripe.InvalidRequestError, match="must be a number"):
        stripe_client.v1.billing.meter_events.create(
            params={"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "many"}}
        )
    stripe_client.v1.billing.meters.deactivate(meter.id)
    with pytest.raises(stripe.InvalidRequestError, match="No active meter"):
        stripe_client.v1.billing.meter_events.create(
            params={"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "1"}}
        )
