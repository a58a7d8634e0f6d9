"""Gap 5: localstripe has no `/v1/billing/meters` nor `/v1/billing/meter_events`.

Meters (create, retrieve, list, update, deactivate, reactivate) and meter events live in the
bridge. A meter event is checked as Stripe checks it on receipt: an active meter has its
`event_name`, the payload names the customer and carries a numeric value, and its `identifier`
was not seen in the last 24 h (Stripe de-duplicates on it,
https://docs.stripe.com/api/billing/meter-event/create). Stripe has no endpoint listing raw
meter events, so `BridgeState.meters.events` is how a test reads what was reported.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    as_int,
    new_id,
    paginate,
    reject_unknown,
    request_params,
    require,
    stored,
)

METER_EVENT_IDENTIFIER_TTL_SECONDS = 24 * 3600


@dataclass
class MeterState:
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    identifiers: dict[str, float] = field(default_factory=dict)  # identifier -> when it was first seen

    def active(self, event_name: str) -> dict[str, Any] | None:
        return next(
            (
                meter
                for meter in self.by_id.values()
                if meter["event_name"] == event_name and meter["status"] == "active"
            ),
            None,
        )

    def usage(self, meter: dict[str, Any], customer_id: str, start: int, end: int) -> float:
        """The meter's aggregate for the customer's events timestamped in [start, end), by the meter's
        `default_aggregation.formula`: sum of the values, count of the events, or the last value."""
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        events = sorted(
            (
                event
                for event in self.events
                if event["event_name"] == meter["event_name"]
                and event["payload"].get(customer_key) == customer_id
                and start <= event["timestamp"] < end
            ),
            key=lambda event: event["timestamp"],
        )
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return float(len(events))
        values = [float(event["payload"].get(value_key, 0)) for event in events]
        return (values[-1] if values else 0.0) if formula == "last" else sum(values)


class Meters:
    def __init__(self, state: MeterState) -> None:
        self._state = state

    def routes(self) -> list[Route]:
        return [
            ("POST", "/v1/billing/meters", self.create),
            ("GET", "/v1/billing/meters", self.list),
            ("GET", "/v1/billing/meters/{id}", self.retrieve),
            ("POST", "/v1/billing/meters/{id}", self.update),
            ("POST", "/v1/billing/meters/{id}/{action:deactivate|reactivate}", self.set_status),
            ("POST", "/v1/billing/meter_events", self.create_event),
        ]

    async def create(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(
            params, ("display_name", "event_name", "default_aggregation", "customer_mapping", "value_settings")
        )
        event_name = require(params, "event_name")
        if self._state.active(event_name) is not None:
            raise StripeError(
                400, f"An active meter with event_name `{event_name}` already exists.", param="event_name"
            )
        created = int(time.time())
        meter = {
            "id": new_id("mtr_"),
            "object": "billing.meter",
            "created": created,
            "customer_mapping": {
                "type": "by_id",
                "event_payload_key": "stripe_customer_id",
                **(params.get("customer_mapping") or {}),
            },
            "default_aggregation": {"formula": require(params, "default_aggregation", "formula")},
            "display_name": require(params, "display_name"),
            "event_name": event_name,
            "event_time_window": None,
            "livemode": False,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": created,
            "value_settings": {"event_payload_key": "value", **(params.get("value_settings") or {})},
        }
        self._state.by_id[meter["id"]] = meter
        return web.json_response(meter)

    def _meter(self, request: web.Request) -> dict[str, Any]:
        return stored(self._state.by_id, "billing meter", request.match_info["id"])

    async def retrieve(self, request: web.Request) -> web.Response:
        return web.json_response(self._meter(request))

    async def update(self, request: web.Request) -> web.Response:
        meter = self._meter(request)
        params = await request_params(request)
        reject_unknown(params, ("display_name",))
        meter.update(display_name=params.get("display_name", meter["display_name"]), updated=int(time.time()))
        return web.json_response(meter)

    async def set_status(self, request: web.Request) -> web.Response:
        meter = self._meter(request)
        active = request.match_info["action"] == "reactivate"
        now = int(time.time())
        meter.update(
            status="active" if active else "inactive",
            updated=now,
            status_transitions={"deactivated_at": None if active else now},
        )
        return web.json_response(meter)

    async def list(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("status", "limit", "starting_after"))
        meters = [m for m in self._state.by_id.values() if params.get("status") in (None, m["status"])]
        return web.json_response(paginate(meters, params, "/v1/billing/meters"))

    async def create_event(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("event_name", "payload", "identifier", "timestamp"))
        event_name = require(params, "event_name")
        payload = require(params, "payload")
        meter = self._state.active(event_name)
        if meter is None:
            raise StripeError(
                400,
                f"No active meter was found for event_name `{event_name}`.",
                param="event_name",
                code="resource_missing",
            )
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        if not payload.get(customer_key):
            raise StripeError(
                400, f"Missing required param: payload[{customer_key}].", param=f"payload[{customer_key}]"
            )
        value = payload.get(value_key, "1" if meter["default_aggregation"]["formula"] == "count" else None)
        if value is None or not re.fullmatch(r"-?\d+(\.\d+)?", str(value)):
            raise StripeError(400, f"payload[{value_key}] must be a number.", param=f"payload[{value_key}]")
        now = time.time()
        identifiers = self._state.identifiers
        for expired in [i for i, seen in identifiers.items() if now - seen > METER_EVENT_IDENTIFIER_TTL_SECONDS]:
            del identifiers[expired]
        identifier = params.get("identifier") or new_id("mev_")
        if identifier in identifiers:
            raise StripeError(
                400,
                f"An event already exists with identifier {identifier}.",
                param="identifier",
                code="duplicate_meter_event",
            )
        identifiers[identifier] = now
        event = {
            "object": "billing.meter_event",
            "created": int(now),
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": as_int(params.get("timestamp"), "timestamp") or int(now),
        }
        self._state.events.append(event)
        return web.json_response(event)
