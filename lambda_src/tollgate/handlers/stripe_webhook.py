"""POST /stripe/webhook: verify Stripe's signature on the raw body, apply the event, answer.

A credit pack's Checkout session (payment mode) goes to the credit purchases (tollgate.domain.credit_purchases),
every other event to the billing lifecycle (tollgate.domain.lifecycle).

Answers Stripe reads: 200 once the event is applied, was applied before, is stale or is not for
us; 400 when the signature is missing or wrong or its timestamp is outside the tolerance (nothing
is changed; the answer is our own sentence, the verifier's detail goes to the log); 409/503 when
the event could not be applied yet (an account still being registered, a service failing): Stripe
retries those for three days. Logs carry event ids and outcomes, never the payload; every delivery
is counted by outcome (contract.METRIC_WEBHOOK_EVENTS): a flood of rejected signatures, or a wrong
signing secret, sets an alarm off.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from tollgate import contract, wiring
from tollgate.domain.credit_purchases import CreditPurchases
from tollgate.domain.errors import ConcurrentUpdate, DownstreamError, InvalidWebhookSignature, ValidationFailed
from tollgate.handlers.http import HttpFunction, error, raw_body, respond

STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
NOT_FROM_STRIPE = (
    "This request is not a webhook signed by Stripe for this endpoint; nothing was changed. Stripe signs each "
    "delivery with the endpoint's signing secret (stripe_webhook_secret in the stack's Stripe secret)."
)

function = HttpFunction(
    "tollgate-stripe-webhook",
    downstream_message="A service Tollgate relies on failed; retry later.",
    unavailable_message="The webhook is not configured yet; retry later.",
)
app, logger = function.router, function.logger


@app.post(contract.ROUTE_STRIPE_WEBHOOK)
def stripe_webhook() -> Response[str]:
    request = app.current_event
    current = wiring.current()
    event = current.webhook_events.verify(raw_body(request) or "", request.headers.get(STRIPE_SIGNATURE_HEADER))
    logger.append_keys(stripe_event_id=event.id, stripe_event_type=event.type)
    outcome = (
        current.credit_purchases.apply(event) if CreditPurchases.handles(event) else current.lifecycle.handle(event)
    )
    logger.info("Stripe event handled", extra={"outcome": outcome.value})
    _count(outcome.value)
    return respond(200, {"received": True, "outcome": outcome.value})


def _count(outcome: str) -> None:
    wiring.current().metrics.count(contract.METRIC_WEBHOOK_EVENTS[outcome])


@app.exception_handler([InvalidWebhookSignature, ValidationFailed])
def _not_from_stripe(problem: Exception) -> Response[str]:
    logger.warning("Rejected a webhook that Stripe did not sign", extra={"reason": str(problem)})
    _count("rejected_signature")
    return error(400, NOT_FROM_STRIPE)


@app.exception_handler(ConcurrentUpdate)
def _busy(problem: ConcurrentUpdate) -> Response[str]:
    logger.info("Stripe event deferred", extra={"reason": str(problem)})
    _count("retry_later")
    return error(409, "The account is changing; retry later.")


@app.exception_handler(DownstreamError)
def _downstream_failed(problem: DownstreamError) -> Response[str]:
    """Always 503, even when Stripe refused a call: Stripe retries any non-2xx for three days, and
    a refusal (a deployment fix) may well be repaired by then."""
    logger.warning("Stripe event not applied", extra={"service": problem.service, "reason": str(problem)})
    _count("retry_later")
    return error(503, function.downstream_message)


handler = function.lambda_handler()
