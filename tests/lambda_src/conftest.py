"""Fixtures for the register handler and adapter tests.

AWS is moto in-process (`mock_aws`): each module gets its own empty account, so these tests
never collide with the dev stack's moto server. Stripe is the session's localstripe bridge and
Moesif the session's collector (tests/conftest.py). The stack's resources are created with the
same functions `make dev` uses (localdev.bootstrap, ops.catalog_setup).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import DEV_CATALOG, create_api, create_tables
from ops.catalog_setup import CatalogSetup
from testkit.lambda_events import KEY_OWNER, REGISTER_MODULE, SIGNUP_ORIGIN, DeployedFunction, deployed
from tollgate import contract
from tollgate.adapters.stripe_client import stripe_client

STRIPE_TEST_KEY = "sk_test_tollgate"
MOESIF_APPLICATION_ID = "moesif-test-application"


@dataclass
class AwsStack:
    """What the stack would have created, in moto."""

    usage_plan_id: str
    accounts_table: str
    idempotency_table: str
    stripe_secret_arn: str
    moesif_secret_arn: str

    def environment(self, stripe_api: str, moesif_api: str, price_id: str, require_payment_method: bool = False):
        return {
            contract.ENV_STRIPE_SECRET_ARN: self.stripe_secret_arn,
            contract.ENV_MOESIF_SECRET_ARN: self.moesif_secret_arn,
            contract.ENV_ACCOUNTS_TABLE: self.accounts_table,
            contract.ENV_IDEMPOTENCY_TABLE: self.idempotency_table,
            contract.ENV_USAGE_PLAN_ID: self.usage_plan_id,
            contract.ENV_KEY_OWNER: KEY_OWNER,
            contract.ENV_STRIPE_PRICE_ID: price_id,
            contract.ENV_REQUIRE_PAYMENT_METHOD: str(require_payment_method).lower(),
            contract.ENV_ALLOWED_ORIGIN: SIGNUP_ORIGIN,
            contract.ENV_SIGNUP_URL: SIGNUP_ORIGIN + "/",
            contract.ENV_STRIPE_API_BASE: stripe_api,
            contract.ENV_MOESIF_API_BASE: moesif_api,
        }


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsStack]:
    """An empty moto account with the stack's usage plan, tables and secret."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            settings = Settings.from_context(load_cdk_json_context("cdk.json"))
            _, usage_plan_id = create_api(boto3.client("apigateway"), settings)
            accounts_table, idempotency_table = create_tables(boto3.client("dynamodb"))
            secrets_manager = boto3.client("secretsmanager")
            stripe_secret_arn = secrets_manager.create_secret(Name="tollgate-test-stripe", SecretString=json.dumps({
                contract.SECRET_FIELD_STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
                contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: "whsec_test",
            }))["ARN"]
            moesif_secret_arn = secrets_manager.create_secret(Name="tollgate-test-moesif", SecretString=json.dumps({
                contract.SECRET_FIELD_MOESIF_APPLICATION_ID: MOESIF_APPLICATION_ID,
            }))["ARN"]
            yield AwsStack(usage_plan_id, accounts_table, idempotency_table, stripe_secret_arn, moesif_secret_arn)


@pytest.fixture(scope="session")
def price_id(stripe_api: str) -> str:
    """The metered price, created the way `make stripe-setup` creates it."""
    return CatalogSetup(stripe_client(STRIPE_TEST_KEY, api_base=stripe_api)).ensure(DEV_CATALOG).price_id




@pytest.fixture(scope="module")
def register_module(aws: AwsStack, stripe_api: str, moesif_collector, price_id: str) -> DeployedFunction:
    return deployed(REGISTER_MODULE, aws.environment(stripe_api, moesif_collector.base_url, price_id))
