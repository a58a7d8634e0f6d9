"""The register function's worst cases fit its timeout (contract.REGISTER_TIMEOUT_SECONDS).

Model: one service stalls mid sign-up, so every further call to it spends its whole budget (every
attempt times out, full backoff), while the others answer at normal latency. The rollback must
still finish before Lambda stops the function: a stopped rollback is not lost (the row's lease
runs out, the next sign-up or `make failed-accounts` undoes it), but it answers the user with
API Gateway's bare 504 instead of our 503. Two services stalling at once can exceed the timeout;
that is what the lease and failed-accounts are for.
"""

from __future__ import annotations

import pytest

from tollgate import contract
from tollgate.adapters.aws_clients import AWS_CLIENT_CONFIG, DYNAMODB_CLIENT_CONFIG, AwsClients, call_budget_seconds
from tollgate.adapters.moesif_analytics import MOESIF_CALL_BUDGET_SECONDS
from tollgate.adapters.stripe_client import STRIPE_CALL_BUDGET_SECONDS
from tollgate.domain.account import RESERVATION_LEASE_SECONDS
from tollgate.domain.usage_keys import KEY_CREATE_RETRY_SECONDS

AWS = call_budget_seconds(AWS_CLIENT_CONFIG)
DYNAMODB = call_budget_seconds(DYNAMODB_CLIENT_CONFIG)
# Every other call of the flow and its rollback at normal latency (about 15 calls, 4 stages).
HEALTHY_CALLS_SECONDS = 2

WORST_CASES = {
    # A key that never got attached needs no detach: attach, then delete the key.
    "API Gateway stalls when the key is attached": 2 * AWS,
    # Throttled creates tried again for KEY_CREATE_RETRY_SECONDS, then the last try stalls (nothing to undo).
    "API Gateway throttles the usage key's create": KEY_CREATE_RETRY_SECONDS + AWS,
    # Record the key id, release the reservation, drop the in-progress idempotency record.
    "DynamoDB stalls after the reservation": 3 * DYNAMODB,
    # Create the customer, then repeat the create with its idempotency key to find what it made.
    "Stripe stalls when creating the customer": 2 * STRIPE_CALL_BUDGET_SECONDS,
    # Subscribe, then delete the customer (which also ends any subscription Stripe made late).
    "Stripe stalls when subscribing": 2 * STRIPE_CALL_BUDGET_SECONDS,
    "Moesif stalls in the last stage": MOESIF_CALL_BUDGET_SECONDS,
    "Secrets Manager stalls on a cold start": AWS,
}


@pytest.mark.parametrize("seconds", WORST_CASES.values(), ids=WORST_CASES.keys())
def test_one_stalled_service_and_the_rollback_fit_the_function_timeout(seconds):
    assert seconds + HEALTHY_CALLS_SECONDS < contract.REGISTER_TIMEOUT_SECONDS


def test_a_live_sign_up_never_outlasts_its_reservation():
    assert RESERVATION_LEASE_SECONDS > contract.REGISTER_TIMEOUT_SECONDS


def test_the_clients_use_the_budgeted_configuration(aws):
    for service, config in (
        ("apigateway", AWS_CLIENT_CONFIG),
        ("secretsmanager", AWS_CLIENT_CONFIG),
        ("dynamodb", DYNAMODB_CLIENT_CONFIG),
    ):
        used = AwsClients().client(service).meta.config
        assert (used.connect_timeout, used.read_timeout, used.retries) == (
            config.connect_timeout,
            config.read_timeout,
            config.retries,
        ), service
