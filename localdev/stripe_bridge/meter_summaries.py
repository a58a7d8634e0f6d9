"""Gap 10: localstripe has no `GET /v1/billing/meters/{id}/event_summaries`.

What a customer used of a meter over a time range, aggregated from the meter events the bridge
holds (meters.py) as Stripe aggregates them: by the meter's formula (sum, count, last), over the
events whose `timestamp` falls in [start_time, end_time). As Stripe requires, both ends are whole
minutes, and whole hours or UTC days with `value_grouping_window=hour|day`, which gives one summary
per hour or day instead of one for the whole range
(https://docs.stripe.com/api/billing/meter-event-summary/list). Stripe aggregates asynchronously;
the bridge answers at once.
"""

from __future__ import annotations

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    new_id,
    paginate,
    reject_unknown,
    request_params,
    require,
    required_int,
    stored,
)
from localdev.stripe_bridge.meters import MeterState

_WINDOWS = {"hour": 3600, "day": 86400}


class MeterSummaries:
    def __init__(self, meters: MeterState) -> None:
        self._meters = meters

    def routes(self) -> list[Route]:
        return [("GET", "/v1/billing/meters/{id}/event_summaries", self.list)]

    async def list(self, request: web.Request) -> web.Response:
        meter = stored(self._meters.by_id, "billing meter", request.match_info["id"])
        params = await request_params(request)
        reject_unknown(
            params,
            (
                "customer",
                "start_time",
                "end_time",
                "value_grouping_window",
                "limit",
                "starting_after",
                "ending_before",
                "expand",
            ),
        )
        customer = require(params, "customer")
        start, end = (required_int(params, name) for name in ("start_time", "end_time"))
        window = params.get("value_grouping_window")
        if window is not None and window not in _WINDOWS:
            raise StripeError(
                400, "Invalid value_grouping_window: must be one of hour, day", param="value_grouping_window"
            )
        step = 60 if window is None else _WINDOWS[window]
        for name, moment in (("start_time", start), ("end_time", end)):
            if moment % step:
                unit = {60: "minute", 3600: "hour", 86400: "day"}[step]
                raise StripeError(400, f"{name} must be aligned with {unit} boundaries.", param=name)
        if end <= start:
            raise StripeError(400, "end_time must be after start_time.", param="end_time")
        bounds = [(start, end)] if window is None else [(at, min(at + step, end)) for at in range(start, end, step)]
        summaries = [
            {
                "id": new_id("mtrusum_"),
                "object": "billing.meter_event_summary",
                "livemode": False,
                "meter": meter["id"],
                "start_time": low,
                "end_time": high,
                "aggregated_value": self._meters.usage(meter, customer, low, high),
            }
            for low, high in bounds
        ]
        return web.json_response(paginate(summaries, params, request.path))
