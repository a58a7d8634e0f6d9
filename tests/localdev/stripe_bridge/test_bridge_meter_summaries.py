"""Gap 10 (localdev/stripe_bridge/meter_summaries.py): meter event summaries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import stripe

HOUR = 3600
START = 1_800_000_000 - 1_800_000_000 % 86400  # a UTC midnight


def send(client: stripe.StripeClient, meter: Any, customer: Any, value: int, timestamp: int) -> None:
    client.v1.billing.meter_events.create(
        params={
            "event_name": meter.event_name,
            "identifier": str(uuid.uuid4()),
            "timestamp": timestamp,
            "payload": {"stripe_customer_id": customer.id, "value": str(value)},
        }
    )


def summaries(client: stripe.StripeClient, meter: Any, customer: Any, start: int, end: int, **extra: Any) -> list[Any]:
    return list(
        client.v1.billing.meters.event_summaries.list(
            meter.id, {"customer": customer.id, "start_time": start, "end_time": end, **extra}
        ).data
    )


def test_meter_summaries_add_up_a_customers_events_in_the_range(
    stripe_client: stripe.StripeClient, meter: Any, customer: Any
):
    for value, timestamp in ((3, START), (4, START + HOUR - 1), (5, START + HOUR), (100, START - 1)):
        send(stripe_client, meter, customer, value, timestamp)

    (whole,) = summaries(stripe_client, meter, customer, START, START + 2 * HOUR)
    hourly = summaries(stripe_client, meter, customer, START, START + 2 * HOUR, value_grouping_window="hour")

    assert whole.object == "billing.meter_event_summary" and whole.meter == meter.id
    assert (whole.start_time, whole.end_time, whole.aggregated_value) == (START, START + 2 * HOUR, 12)
    assert sorted((summary.start_time, summary.aggregated_value) for summary in hourly) == [
        (START, 7),
        (START + HOUR, 5),
    ]


def test_meter_summaries_need_minute_aligned_bounds(stripe_client: stripe.StripeClient, meter: Any, customer: Any):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        summaries(stripe_client, meter, customer, START + 30, START + HOUR)
    assert raised.value.param == "start_time"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        summaries(stripe_client, meter, customer, START, START + 90 * 60, value_grouping_window="hour")
    assert raised.value.param == "end_time"


def test_meter_summaries_count_events_with_a_count_meter(stripe_client: stripe.StripeClient, customer: Any):
    meter = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Calls",
            "event_name": f"calls_{uuid.uuid4().hex[:8]}",
            "default_aggregation": {"formula": "count"},
        }
    )
    for value in (5, 7):
        send(stripe_client, meter, customer, value, START + 60)

    (summary,) = summaries(stripe_client, meter, customer, START, START + HOUR)

    assert summary.aggregated_value == 2
