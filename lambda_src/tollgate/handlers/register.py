"""POST /register, and its twin on the site's own origin POST /api/register (the same request and
answer): parse the sign-up; with `verify_email` (the default) email a confirmation link and answer
202 (tollgate.domain.verified_sign_up); without it, run RegistrationService at once and answer with
the contract's JSON. POST /api/signup/confirm (on the site's own origin): the link's
token runs RegistrationService for the sign-up it holds and answers like a direct sign-up.

Idempotency-Key: the first successful response is replayed for the same key and body for
contract.SIGN_UP_REPLAY_SECONDS (then the request is a new sign-up of a taken email: 409, no key);
the idempotency table stores it WITHOUT the key, and nothing else holds the key (only its hash is
stored): a replay answers the same ids with `apikey: null` and says why (`keyNote`: sign in and
rotate for a new key).
Logs carry ids only, never the key value nor the request body. Everything this module uses comes
from tollgate.wiring.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from tollgate import contract, wiring
from tollgate.domain.errors import EmailAlreadyRegistered, RegistrationInProgress, ValidationFailed
from tollgate.domain.models import Registrant
from tollgate.domain.registration import Registration
from tollgate.domain.validation import parse_link_token, parse_registration
from tollgate.handlers.http import HttpFunction, error, raw_body, require_json, respond

MAX_IDEMPOTENCY_KEY_LENGTH = 255
API_KEY_VALUE_FIELD = contract.API_KEY_VALUE_FIELD
KEY_NOTE_FIELD = "keyNote"
REPLAY_KEY_NOTE = (
    "This sign-up was completed by an earlier identical request, whose answer held the key: a key "
    "is shown once and never stored. If you lost it, sign in on the account page and rotate your key."
)

function = HttpFunction(
    "tollgate-register",
    downstream_message="We could not finish your sign-up because a service we rely on failed. Nothing was created "
    "or charged; please try again in a minute.",
    unavailable_message="Sign-up is temporarily unavailable; please try again later.",
)
app, logger = function.router, function.logger


class _ResponseWithoutKeyValue(BaseIdempotencySerializer):
    """Stores the 201 body minus the key value: the idempotency table never holds a secret."""

    def to_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in data.items() if name != API_KEY_VALUE_FIELD}

    def from_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        return data


def _without_key_value(response: dict[str, Any], idempotent_data: DataRecord) -> dict[str, Any]:
    """Replay: the key was shown once, in the first answer; say so. (The parameters are named as
    Powertools' IdempotentHookFunction names them.)"""
    logger.info(
        "Replaying a completed sign-up", extra={"keyId": response.get("keyId"), "accountId": response.get("accountId")}
    )
    return {API_KEY_VALUE_FIELD: None, KEY_NOTE_FIELD: REPLAY_KEY_NOTE, **response}


idempotency = IdempotencyConfig(
    event_key_jmespath="idempotencyKey",
    payload_validation_jmespath="registrant",
    expires_after_seconds=contract.SIGN_UP_REPLAY_SECONDS,
    response_hook=_without_key_value,
)


def _register_once(request: dict[str, Any]) -> dict[str, Any]:
    """The sign-up Powertools Idempotency runs at most once per key (its records are named after this function)."""
    return _register(request)


def _register_idempotently(request: dict[str, Any]) -> dict[str, Any]:
    """`_register_once` on the process's idempotency store, built the first time a request has a key."""
    once = idempotent_function(
        data_keyword_argument="request",
        persistence_store=wiring.current().idempotency_store,
        config=idempotency,
        output_serializer=_ResponseWithoutKeyValue(),
    )(_register_once)
    body: dict[str, Any] = once(request=request)  # what _register_once returned, or its stored replay
    return body


def _register(request: dict[str, Any]) -> dict[str, Any]:
    registrant = Registrant(**request["registrant"])
    fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return _created_body(_configured().registration.register(registrant, fingerprint))


def _configured() -> wiring.Wiring:
    """The wiring, once both secrets hold real values: a placeholder is refused before anything is
    created or emailed (503, "not configured yet")."""
    current = wiring.current()
    current.stripe_secret.load().require(contract.SECRET_FIELD_STRIPE_SECRET_KEY)
    current.moesif_secret.load().require(contract.SECRET_FIELD_MOESIF_APPLICATION_ID)
    return current


def _created_body(registration: Registration) -> dict[str, Any]:
    logger.info(
        "Registered",
        extra={
            "keyId": registration.key.id,
            "accountId": registration.account_id,
            "customerId": registration.customer_id,
            "subscriptionId": registration.subscription_id,
            "status": registration.status.value,
        },
    )
    return {
        API_KEY_VALUE_FIELD: registration.key.value,
        "keyId": registration.key.id,
        "keyHint": registration.key_hint,
        "accountId": registration.account_id,
        "customerId": registration.customer_id,
        "subscriptionId": registration.subscription_id,
        "status": registration.status.value,
        # The plan signed up for: the signup page says what applies to it (its quota, price, card step).
        "plan": registration.plan_id,
        # How to add a payment method (required first when status is awaiting_payment_method):
        # the same request the signup page's button sends.
        "addPaymentMethod": {
            "method": "POST",
            "path": contract.ROUTE_CHECKOUT,
            "apiKeyHeader": contract.API_KEY_HEADER,
            "body": {"keyId": registration.key.id},
        },
    }


@app.post(contract.ROUTE_REGISTER)
@app.post(contract.ROUTE_SITE_REGISTER)
def register() -> Response[str]:
    event = app.current_event
    config = wiring.current().config
    registrant = parse_registration(raw_body(event), config.plans.ids)
    accounts = config.accounts
    if accounts is not None and accounts.verify_email:
        _configured().verified_sign_up.request(registrant)
        logger.info("Sign-up link or sign-in link emailed")  # which one, the answer must not tell
        return respond(202, {"status": "confirmation_sent"})
    idempotency_key = event.headers.get(contract.IDEMPOTENCY_HEADER)
    request = {"idempotencyKey": idempotency_key, "registrant": asdict(registrant)}
    if idempotency_key is None:
        return respond(201, _register(request))
    if not idempotency_key.strip() or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed(
            f"The {contract.IDEMPOTENCY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            {contract.IDEMPOTENCY_HEADER: f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"},
        )
    return respond(201, _register_idempotently(request))


@app.post(contract.ROUTE_SIGNUP_CONFIRM)
def confirm_sign_up() -> Response[str]:
    """The link's token (the page posts it from the URL fragment) registers its sign-up."""
    event = app.current_event
    require_json(event)
    token = parse_link_token(raw_body(event))
    return respond(201, _created_body(_configured().verified_sign_up.confirm(token)))


@app.exception_handler(EmailAlreadyRegistered)
def _already_registered(_: EmailAlreadyRegistered) -> Response[str]:
    return error(409, "This email already has an account.", {"email": "already has an account"})


@app.exception_handler([RegistrationInProgress, IdempotencyAlreadyInProgressError])
def _in_progress(_: Exception) -> Response[str]:
    return error(
        409,
        "This sign-up is already being processed; wait a few seconds, then try again.",
        headers={"Retry-After": "5"},
    )


@app.exception_handler(IdempotencyValidationError)
def _idempotency_key_reused(_: IdempotencyValidationError) -> Response[str]:
    return error(
        422,
        f"This {contract.IDEMPOTENCY_HEADER} was already used for a different sign-up; send a new key.",
        {contract.IDEMPOTENCY_HEADER: "was already used with a different body"},
    )


app.exception_handler(IdempotencyPersistenceLayerError)(function.unavailable)
handler = function.lambda_handler(on_invoke=idempotency.register_lambda_context)
