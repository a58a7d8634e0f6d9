"""RuntimeConfig from the environment and the secret from Secrets Manager (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from testkit.lambda_events import LambdaContext, api_gateway_event

from tollgate import contract, wiring
from tollgate.adapters.secrets import SecretStore
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConfigurationError

ENVIRONMENT = {
    contract.ENV_STRIPE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe",
    contract.ENV_MOESIF_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:moesif",
    contract.ENV_ACCOUNTS_TABLE: "accounts",
    contract.ENV_IDEMPOTENCY_TABLE: "idempotency",
    contract.ENV_USAGE_PLAN_ID: "plan",
    contract.ENV_KEY_OWNER: "Tollgate/prod",
    contract.ENV_STRIPE_PRICE_ID: "price_1",
    contract.ENV_REQUIRE_PAYMENT_METHOD: "false",
    contract.ENV_ALLOWED_ORIGIN: "https://d123.cloudfront.net",
    contract.ENV_SIGNUP_URL: "https://d123.cloudfront.net/",
}


def test_settings_are_read_from_the_contract_variables():
    config = RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_REQUIRE_PAYMENT_METHOD: "TRUE",
                                                       contract.ENV_STRIPE_API_BASE: "http://127.0.0.1:1/"})

    assert config.require_payment_method is True
    assert config.stripe_api_base == "http://127.0.0.1:1" and config.moesif_api_base is None
    assert config.usage_plan_id == "plan"


@pytest.mark.parametrize("missing", [name for name in ENVIRONMENT])
def test_a_missing_variable_is_named(missing):
    with pytest.raises(ConfigurationError, match=missing):
        RuntimeConfig.from_environ({name: value for name, value in ENVIRONMENT.items() if name != missing})


def test_a_bad_boolean_is_named():
    with pytest.raises(ConfigurationError, match=contract.ENV_REQUIRE_PAYMENT_METHOD):
        RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_REQUIRE_PAYMENT_METHOD: "yes"})


def test_the_register_function_refuses_to_start_without_its_settings(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(contract.ENV_USAGE_PLAN_ID)
    from tollgate.handlers import register

    with wiring.installed(None), pytest.raises(ConfigurationError, match=contract.ENV_USAGE_PLAN_ID):
        register.handler(api_gateway_event("{}"), LambdaContext())  # the first invocation of a cold start


def store_secret(name: str, values: dict) -> str:
    return boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(values))["ARN"]


def test_secret_fields_are_read_by_contract_name(aws):
    stripe = SecretStore(aws.stripe_secret_arn, boto3.client("secretsmanager")).load()
    moesif = SecretStore(aws.moesif_secret_arn, boto3.client("secretsmanager")).load()

    assert stripe.field(contract.SECRET_FIELD_STRIPE_SECRET_KEY) == "sk_test_tollgate"
    assert moesif.field(contract.SECRET_FIELD_MOESIF_APPLICATION_ID) == "moesif-test-application"
    assert "sk_test_tollgate" not in repr(stripe)


def test_a_placeholder_field_is_refused_with_its_name(aws):
    arn = store_secret("placeholder", {field: contract.SECRET_PLACEHOLDER
                                       for field in (*contract.STRIPE_SECRET_FIELDS, *contract.MOESIF_SECRET_FIELDS)})

    secrets = SecretStore(arn, boto3.client("secretsmanager")).load()

    with pytest.raises(ConfigurationError, match=contract.SECRET_FIELD_STRIPE_SECRET_KEY):
        secrets.field(contract.SECRET_FIELD_STRIPE_SECRET_KEY)
    with pytest.raises(ConfigurationError, match="'api_key'"):
        secrets.require(contract.SECRET_FIELD_MOESIF_APPLICATION_ID)


def test_a_secret_that_is_not_json_is_refused(aws):
    arn = boto3.client("secretsmanager").create_secret(Name="not-json", SecretString="sk_live_oops")["ARN"]

    with pytest.raises(ConfigurationError, match="not a JSON object"):
        SecretStore(arn, boto3.client("secretsmanager")).load()
