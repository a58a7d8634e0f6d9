"""POST /billing/checkout: open Stripe Checkout (setup mode) so a customer adds a payment method;
POST /billing/checkout/outcome: what became of the account, for the page back from Checkout.
Both answer alike on the site's own origin (POST /api/billing/checkout and /api/billing/checkout/outcome,
contract.SITE_TWIN_OF_ROUTE), where the signup page calls them.

Checkout: the browser sends its key in `x-api-key` and the key's id in the body `{"keyId"}`; the
route is not metered (a key awaiting its payment method cannot call yet), so the handler checks the
pair itself (PaymentMethodCheckout: by the key's hash, in the keys table). Answers `{"url": ...}`; 403
for any key problem, without saying which; 400 for a malformed body.

Outcome: the body `{"sessionId": "cs_..."}` names the session Stripe returned the page with.
Answers `{"settled": false}` while the webhook is still applying the completion, then
`{"settled": true, "status": "active"|"suspended"|..., "reason": <why the key is cut off, or null>}`;
404 for a session that is not a recent payment-method Checkout of an account.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from tollgate import contract, wiring
from tollgate.domain.errors import ApiKeyRejected, UnknownCheckoutSession
from tollgate.domain.validation import parse_checkout_outcome_request, parse_checkout_request
from tollgate.handlers.http import HttpFunction, error, raw_body, respond

function = HttpFunction(
    "tollgate-checkout",
    downstream_message="We could not open the payment page because a service we rely on failed; please try again "
    "in a minute.",
    unavailable_message="Adding a payment method is temporarily unavailable.",
)
app, logger = function.router, function.logger


@app.post(contract.ROUTE_CHECKOUT)
@app.post(contract.ROUTE_SITE_CHECKOUT)
def checkout() -> Response[str]:
    request = app.current_event
    key_id = parse_checkout_request(raw_body(request))
    presented_key = request.headers.get(contract.API_KEY_HEADER) or ""
    if not presented_key:
        raise ApiKeyRejected("no x-api-key header")
    url = wiring.current().checkout.start(key_id, presented_key, request.request_context.request_id)
    logger.info("Checkout session opened", extra={"keyId": key_id})
    return respond(200, {"url": url})


@app.post(contract.ROUTE_CHECKOUT_OUTCOME)
@app.post(contract.ROUTE_SITE_CHECKOUT_OUTCOME)
def checkout_outcome() -> Response[str]:
    outcome = wiring.current().checkout.outcome(parse_checkout_outcome_request(raw_body(app.current_event)))
    if not outcome.settled or outcome.status is None:  # (a settled outcome always has the account's status)
        return respond(200, {"settled": False})
    return respond(200, {"settled": True, "status": outcome.status.value, "reason": outcome.reason})


@app.exception_handler(UnknownCheckoutSession)
def _unknown_session(problem: UnknownCheckoutSession) -> Response[str]:
    logger.info("Checkout outcome refused", extra={"reason": str(problem)})
    return error(404, "We know no recent payment-method Checkout with this session id.")


@app.exception_handler(ApiKeyRejected)
def _rejected(problem: ApiKeyRejected) -> Response[str]:
    logger.info("Checkout refused", extra={"reason": str(problem)})
    return error(403, "This API key and key ID do not match an account that can add a payment method.")


handler = function.lambda_handler()
