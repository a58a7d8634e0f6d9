"""Fixtures of the ops tests. Stripe is the session's localstripe behind the bridge (tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh catalog names per test: the bridge is shared by the whole session."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "product": f"Setup test {suffix}",
        "event": f"setup_test_{suffix}",
        "lookup": f"setup_test_{suffix}",
        "webhook": f"http://127.0.0.1:9/stripe/webhook/{suffix}",
    }


@pytest.fixture
def environment(aws, stripe_api, moesif_collector, price_id) -> dict[str, str]:
    """The deployment's settings as the TOLLGATE_* variables name them (moto + the session's emulators)."""
    return aws.environment(stripe_api, moesif_collector.base_url, price_id)


@pytest.fixture
def accounts(aws) -> DynamoAccounts:
    return DynamoAccounts(AwsClients().client("dynamodb"), aws.accounts_table)
