"""UsageMeter on Stripe: meter events for the billing meter behind each plan's price.

A report names the price of the customer's plan; its meter is found from it (price ->
`recurring.meter` -> the meter's `event_name` and payload keys), once per price per process, so the
event name is never a second setting that could disagree with the price customers subscribe to.
A report kept from before plans existed names no price: it goes to the default plan's. The same
read gives the price's unit amount (`unit_amount_decimal`, and its currency), which the evidence of
every billed call shows (tollgate.domain.evidence.UnitPrice): what Stripe multiplies, not a setting.

Events go to the v1 endpoint `POST /v1/billing/meter_events`: validated synchronously (a refused
event is an error here, not a silent loss), about 1,000 events per second in live mode. Tollgate
sends one event per customer per ledger object (a minute of traffic), so it needs far less; the v2
meter event stream (10,000 events/s, 100 per request, 15-minute session tokens, validated
asynchronously) would add a session to manage and errors reported after the fact, for throughput
it does not need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tollgate.adapters.stripe_client import call_stripe, downstream_error
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.evidence import UnitPrice
from tollgate.domain.ports.metering import UsageMeter
from tollgate.domain.usage import MeterReport

if TYPE_CHECKING:
    import stripe
    from stripe.params.billing import MeterEventCreateParams

# What Stripe answers for an identifier it has seen within its de-duplication window: HTTP 400
# invalid_request_error "An event already exists with identifier <id>." (seen in langfuse/langfuse
# PR #16292); some integrations also see the code `duplicate_meter_event`.
DUPLICATE_MESSAGE_START = "An event already exists with identifier"
DUPLICATE_CODE = "duplicate_meter_event"


@dataclass(frozen=True)
class MeterSpec:
    """What a meter event for the configured price must look like."""

    meter_id: str
    event_name: str
    customer_key: str  # payload key naming the Stripe customer (customer_mapping.event_payload_key)
    value_key: str  # payload key holding the quantity (value_settings.event_payload_key)


class StripeUsageMeter(UsageMeter):
    """Meter events through the client `stripe()` gives (stripe_client.StripeClientForSecret)."""

    def __init__(self, stripe: Callable[[], stripe.StripeClient], default_price_id: str | None):
        self._stripe = stripe
        self._default_price_id = default_price_id
        self._specs: dict[str, MeterSpec] = {}
        self._unit_prices: dict[str, UnitPrice] = {}
        self._lock = threading.Lock()

    def spec(self, price_id: str) -> MeterSpec:
        """The meter of a price, read from Stripe once per process."""
        price_id = price_id or self._default_price_id or ""
        with self._lock:
            if price_id not in self._specs:
                v1 = self._stripe().v1
                price = call_stripe("read price", v1.prices.retrieve, price_id)
                meter_id = price.recurring.meter if price.recurring else None
                if not meter_id:
                    raise ConfigurationError(
                        f"stripe_price_id {price_id} is not billed through a Stripe billing meter (no "
                        "recurring.meter), so usage cannot be reported to it; create the price with make stripe-setup "
                        "and deploy with its id."
                    )
                meter = call_stripe("read billing meter", v1.billing.meters.retrieve, meter_id)
                self._specs[price_id] = MeterSpec(
                    meter.id,
                    meter.event_name,
                    meter.customer_mapping.event_payload_key,
                    meter.value_settings.event_payload_key,
                )
                # Per-unit prices only: a tiered price has none (its tiers apply to the period's total).
                # The SDK gives unit_amount_decimal as a Decimal: written plainly ("0.1", never "1E-1").
                amount = price.unit_amount_decimal if price.billing_scheme == "per_unit" else None
                self._unit_prices[price_id] = UnitPrice(
                    "" if amount is None else format(Decimal(str(amount)), "f"), price.currency
                )
            return self._specs[price_id]

    def unit_price(self, price_id: str) -> UnitPrice:
        self.spec(price_id)
        return self._unit_prices[price_id or self._default_price_id or ""]

    def report(self, report: MeterReport) -> bool:
        import stripe

        spec = self.spec(report.price_id)
        params: MeterEventCreateParams = {
            "event_name": spec.event_name,
            "identifier": report.identifier,
            "timestamp": report.timestamp,
            "payload": {spec.customer_key: report.customer_id, spec.value_key: str(report.value)},
        }
        try:
            self._stripe().v1.billing.meter_events.create(params)
        except stripe.InvalidRequestError as error:
            if error.code == DUPLICATE_CODE or str(error.user_message or "").startswith(DUPLICATE_MESSAGE_START):
                return False
            raise downstream_error("send meter event", error) from None
        except stripe.StripeError as error:
            raise downstream_error("send meter event", error) from None
        return True

    def reported_units(self, customer_id: str, price_id: str, start: int, end: int) -> float:
        spec = self.spec(price_id)
        summaries = call_stripe(
            "read meter event summaries",
            self._stripe().v1.billing.meters.event_summaries.list,
            spec.meter_id,
            {"customer": customer_id, "start_time": start, "end_time": end, "limit": 100},
        )
        return sum(summary.aggregated_value for summary in summaries.auto_paging_iter())
