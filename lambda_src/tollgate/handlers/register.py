"""POST /register: parse the sign-up, run RegistrationService, answer with the contract's JSON.

Wiring happens once per Lambda instance (module scope): settings checked, AWS adapters built.
Stripe and Moesif adapters need the secret's values, so they are built on first use and rebuilt
only when the cached secret changes (a rotated key is picked up within five minutes).

Idempotency-Key: the first successful response is replayed for the same key and body; the
idempotency table stores it WITHOUT the key value, which a replay re-reads from API Gateway.
Logs carry ids only, never the key value nor the request body.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from tollgate import contract, wiring
from tollgate.adapters.aws_clients import DYNAMODB_CLIENT_CONFIG
from tollgate.domain.errors import EmailAlreadyRegistered, RegistrationInProgress, ValidationFailed
from tollgate.domain.models import Registrant, Registration
from tollgate.domain.registration import RegistrationService
from tollgate.domain.validation import parse_registration
from tollgate.handlers.http import http_function, raw_body

MAX_IDEMPOTENCY_KEY_LENGTH = 255
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600  # as long as Stripe keeps its own idempotency keys
API_KEY_VALUE_FIELD = "apikey"

function = http_function(
    "tollgate-register",
    downstream_message="We could not finish your sign-up because a service we rely on failed. Nothing was created "
    "or charged; please try again in a minute.",
    unavailable_message="Sign-up is temporarily unavailable; please try again later.",
)
config, logger, app = function.config, function.logger, function.app
api_keys, accounts, secrets = function.api_keys, function.accounts, function.secrets


@functools.lru_cache(maxsize=1)
def _service_for(stripe_secret_key: str, moesif_application_id: str) -> RegistrationService:
    return wiring.registration_service(config, stripe_secret_key, moesif_application_id, api_keys, accounts)


def registration_service() -> RegistrationService:
    """The service wired to the current secret values (cached; rebuilt after a rotation)."""
    current = secrets.load()
    return _service_for(current.stripe_secret_key, current.moesif_application_id)


class _ResponseWithoutKeyValue(BaseIdempotencySerializer):
    """Stores the 201 body minus the key value: the idempotency table never holds a secret."""

    def to_dict(self, data: dict) -> dict:
        return {name: value for name, value in data.items() if name != API_KEY_VALUE_FIELD}

    def from_dict(self, data: dict) -> dict:
        return data


def _with_key_value(stored: dict, _record: Any) -> dict:
    """Replay: put back the key value, read from API Gateway by the stored key id."""
    logger.info("Replaying a completed sign-up", extra={"apiKeyId": stored["apiKeyId"]})
    return {API_KEY_VALUE_FIELD: api_keys.key_value(stored["apiKeyId"]), **stored}


idempotency = IdempotencyConfig(
    event_key_jmespath="idempotencyKey",
    payload_validation_jmespath="registrant",
    expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    response_hook=_with_key_value,
)


@idempotent_function(
    data_keyword_argument="request",
    persistence_store=DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto_config=DYNAMODB_CLIENT_CONFIG),
    config=idempotency,
    output_serializer=_ResponseWithoutKeyValue(),
)
def _register_once(request: dict) -> dict:
    return _register(request)


def _register(request: dict) -> dict:
    registrant = Registrant(**request["registrant"])
    fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return _created_body(registration_service().register(registrant, fingerprint))


def _created_body(registration: Registration) -> dict:
    logger.info(
        "Registered",
        extra={
            "apiKeyId": registration.key.id,
            "customerId": registration.customer_id,
            "subscriptionId": registration.subscription_id,
            "status": registration.status.value,
        },
    )
    return {
        API_KEY_VALUE_FIELD: registration.key.value,
        "apiKeyId": registration.key.id,
        "customerId": registration.customer_id,
        "subscriptionId": registration.subscription_id,
        "status": registration.status.value,
        # How to add a payment method (required first when status is awaiting_payment_method):
        # the same request the signup page's button sends.
        "addPaymentMethod": {
            "method": "POST",
            "path": contract.ROUTE_CHECKOUT,
            "apiKeyHeader": contract.API_KEY_HEADER,
            "body": {"apiKeyId": registration.key.id},
        },
    }


@app.post(contract.ROUTE_REGISTER)
def register() -> Response:
    event = app.current_event
    registrant = parse_registration(raw_body(event))
    idempotency_key = event.headers.get(contract.IDEMPOTENCY_HEADER)
    request = {"idempotencyKey": idempotency_key, "registrant": asdict(registrant)}
    if idempotency_key is None:
        return function.respond(201, _register(request))
    if not idempotency_key.strip() or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed(
            f"The {contract.IDEMPOTENCY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            {contract.IDEMPOTENCY_HEADER: f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"},
        )
    return function.respond(201, _register_once(request=request))


@app.exception_handler(EmailAlreadyRegistered)
def _already_registered(_: EmailAlreadyRegistered) -> Response:
    return function.error(409, "This email already has an account.", {"email": "already has an account"})


@app.exception_handler([RegistrationInProgress, IdempotencyAlreadyInProgressError])
def _in_progress(_: Exception) -> Response:
    return function.error(
        409, "This sign-up is already being processed; wait a few seconds, then try again.", headers={"Retry-After": "5"}
    )


@app.exception_handler(IdempotencyValidationError)
def _idempotency_key_reused(_: IdempotencyValidationError) -> Response:
    return function.error(
        422,
        f"This {contract.IDEMPOTENCY_HEADER} was already used for a different sign-up; send a new key.",
        {contract.IDEMPOTENCY_HEADER: "was already used with a different body"},
    )


app.exception_handler(IdempotencyPersistenceLayerError)(function.unavailable)
handler = function.lambda_handler(on_invoke=idempotency.register_lambda_context)
