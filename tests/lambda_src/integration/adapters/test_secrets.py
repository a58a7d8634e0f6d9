"""The Stripe and Moesif secrets read from Secrets Manager (moto) through SecretStore."""

from __future__ import annotations

import json

import boto3
import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from testkit.moto_stack import MOESIF_APPLICATION_ID
from tollgate import contract
from tollgate.adapters.secrets import SecretStore
from tollgate.domain.errors import ConfigurationError


def store_secret(name: str, values: dict) -> str:
    return boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(values))["ARN"]


def test_secret_fields_are_read_by_contract_name(aws):
    stripe = SecretStore(aws.stripe_secret_arn, boto3.client("secretsmanager")).load()
    moesif = SecretStore(aws.moesif_secret_arn, boto3.client("secretsmanager")).load()

    assert stripe.field(contract.SECRET_FIELD_STRIPE_SECRET_KEY) == STRIPE_TEST_SECRET_KEY
    assert moesif.field(contract.SECRET_FIELD_MOESIF_APPLICATION_ID) == MOESIF_APPLICATION_ID
    assert STRIPE_TEST_SECRET_KEY not in repr(stripe)


def test_a_placeholder_field_is_refused_with_its_name(aws):
    arn = store_secret(
        "placeholder",
        {
            field: contract.SECRET_PLACEHOLDER
            for field in (*contract.STRIPE_SECRET_FIELDS, *contract.MOESIF_SECRET_FIELDS)
        },
    )

    secrets = SecretStore(arn, boto3.client("secretsmanager")).load()

    with pytest.raises(ConfigurationError, match=contract.SECRET_FIELD_STRIPE_SECRET_KEY):
        secrets.field(contract.SECRET_FIELD_STRIPE_SECRET_KEY)
    with pytest.raises(ConfigurationError, match="'api_key'"):
        secrets.require(contract.SECRET_FIELD_MOESIF_APPLICATION_ID)


def test_a_secret_that_is_not_json_is_refused(aws):
    arn = boto3.client("secretsmanager").create_secret(Name="not-json", SecretString="sk_live_oops")["ARN"]

    with pytest.raises(ConfigurationError, match="not a JSON object"):
        SecretStore(arn, boto3.client("secretsmanager")).load()
