"""Fixtures of the integration tests: the real adapters and handlers against moto in-process (the
`aws` fixture, tests/conftest.py), localstripe behind the bridge and the Moesif collector."""

from __future__ import annotations

import pytest

from testkit.lambda_events import REGISTER_MODULE, DeployedFunction, deployed
from testkit.moto_stack import MotoStack


@pytest.fixture(scope="module")
def register_module(aws: MotoStack, stripe_api: str, moesif_collector, price_id: str) -> DeployedFunction:
    return deployed(REGISTER_MODULE, aws.environment(stripe_api, moesif_collector.base_url, price_id))


@pytest.fixture(scope="module")
def webhook_module(aws: MotoStack, stripe_api: str, moesif_collector, price_id: str) -> DeployedFunction:
    return deployed(
        "tollgate.handlers.stripe_webhook", aws.environment(stripe_api, moesif_collector.base_url, price_id)
    )
