"""The stack's AWS resources in moto, in-process, for the integration tests: the usage plan, the
tables, the two secrets and the usage-metering ledger, queues and table, made by the same code
`make dev` uses (localdev.bootstrap), the usage plan's GetUsage (localdev.moto_gaps),
and the environment a deployed function would get for them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import boto3
import pytest
from moto import mock_aws

from infra.plan_settings import runtime_catalog
from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import (
    UsageMetering,
    create_api,
    create_ledger_bucket,
    create_usage_metering,
    provision_key_pools,
)
from localdev.dev_tables import create_credits_table, create_customer_accounts, create_keys_table, create_tables
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from localdev.moto_gaps import answer_usage_plan_usage, fill_api_key_gaps
from localdev.usage_plan_usage import UsageCounter, UsageCounters, counters_for
from testkit.fake_ports import item_allows
from testkit.lambda_events import KEY_OWNER, SIGNUP_ORIGIN
from tollgate import contract
from tollgate.plans import PlanCatalog

MOESIF_APPLICATION_ID = "moesif-test-application"
WEBHOOK_SECRET = "whsec_test"  # what the Stripe secret holds as the webhook signing secret


@dataclass
class MotoStack:
    """What the stack would have created, in moto."""

    usage_plan_ids: dict[str, str]  # plan id -> usage plan id
    accounts_table: str
    idempotency_table: str
    stripe_secret_arn: str
    moesif_secret_arn: str
    usage: UsageMetering
    access_table: str
    settings: Settings
    usage_counters: (
        UsageCounters  # what GetUsage answers, per usage plan: count a key's calls there, as a gateway would
    )
    keys_table: str
    credits_table: str

    @property
    def usage_plan_id(self) -> str:
        """The default plan's usage plan."""
        return self.usage_plan_ids[self.settings.plans[0].id]

    @property
    def usage_counter(self) -> UsageCounter:
        """What the default plan's usage plan counts."""
        return self.usage_counters[self.usage_plan_id]

    def key_item(self, key: str) -> dict:
        """The keys-table item of a Tollgate key a customer holds, found by the key's hash as the
        authorizer finds it (raw DynamoDB attributes)."""
        return boto3.client("dynamodb").get_item(
            TableName=self.keys_table,
            Key={contract.KEYS_PARTITION_KEY: {"S": hashlib.sha256(key.encode()).hexdigest()}},
        )["Item"]

    def account_item(self, key: str) -> dict:
        """The accounts-table row owning a Tollgate key (raw DynamoDB attributes, read consistently)."""
        return boto3.client("dynamodb").get_item(
            TableName=self.accounts_table,
            ConsistentRead=True,
            Key={contract.ACCOUNTS_PARTITION_KEY: self.key_item(key)[contract.KEYS_ATTR_ACCOUNT]},
        )["Item"]

    def usage_key_id(self, key: str) -> str:
        """The id of the API Gateway key (the usage key, never shown) of the account owning a Tollgate key:
        its own, or on a pooled plan its shard's."""
        row = self.account_item(key)
        return (row.get("apiKeyId") or row["poolKeyId"])["S"]

    def usage_key_calls(self, key: str) -> bool:
        """API Gateway's rule on the usage key of the account owning a Tollgate key: enabled, in a usage plan."""
        apigateway, usage_key_id = boto3.client("apigateway"), self.usage_key_id(key)
        in_a_plan = any(
            usage_key_id in {held["id"] for held in apigateway.get_usage_plan_keys(usagePlanId=plan)["items"]}
            for plan in self.usage_plan_ids.values()
        )
        return in_a_plan and apigateway.get_api_key(apiKey=usage_key_id)["enabled"]

    def can_call(self, key: str) -> bool:
        """What the stage decides now for a call presenting `key`: the authorizer's rule on its item
        (testkit.fake_ports.item_allows), then API Gateway's on the account's usage key."""
        item = self.key_item(key)
        not_after = item.get(contract.KEYS_ATTR_NOT_AFTER, {}).get("N")
        return item_allows(
            item[contract.KEYS_ATTR_STATE]["S"],
            float(not_after) if not_after else None,
            item[contract.KEYS_ATTR_ACCOUNT_STATUS]["S"],
            time.time(),
        ) and self.usage_key_calls(key)

    def plans(self, price_id: str, require_payment_method: bool = False) -> PlanCatalog:
        """cdk.json's plans as the functions read them, every paid one billed by `price_id` (of the
        Stripe emulator) and needing a card first when `require_payment_method`."""
        return runtime_catalog(
            tuple(
                plan
                if plan.is_free
                else replace(plan, stripe_price_id=price_id, require_payment_method=require_payment_method)
                for plan in self.settings.plans
            ),
            self.usage_plan_ids,
            self.settings.free_pool_size,
        )

    def environment(
        self,
        stripe_api: str,
        moesif_api: str,
        price_id: str,
        require_payment_method: bool = False,
        verify_email: bool = False,
    ) -> dict[str, str]:
        """The functions' environment, with Stripe and Moesif pointed at the session's emulators.
        Sign-up is one step (`verify_email` off) unless asked: most tests are about what follows it."""
        return {
            **self.usage.environment(contract.DEFAULT_BILLABLE_STATUSES),
            **self.settings.customer_accounts_environment(self.access_table),
            contract.ENV_VERIFY_EMAIL: str(verify_email).lower(),
            contract.ENV_STRIPE_SECRET_ARN: self.stripe_secret_arn,
            contract.ENV_MOESIF_SECRET_ARN: self.moesif_secret_arn,
            contract.ENV_ACCOUNTS_TABLE: self.accounts_table,
            contract.ENV_KEYS_TABLE: self.keys_table,
            contract.ENV_CREDITS_TABLE: self.credits_table,
            contract.ENV_IDEMPOTENCY_TABLE: self.idempotency_table,
            contract.ENV_PLANS: self.plans(price_id, require_payment_method).to_json(),
            contract.ENV_KEY_OWNER: KEY_OWNER,
            contract.ENV_SIGNUP_URL: SIGNUP_ORIGIN + "/",
            contract.ENV_STAGE: "prod",
            contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(contract.DEFAULT_CANCELED_KEY_RETENTION_DAYS),
            contract.ENV_STRIPE_API_BASE: stripe_api,
            contract.ENV_MOESIF_API_BASE: moesif_api,
        }


@contextmanager
def moto_stack() -> Iterator[MotoStack]:
    """An empty moto account (this process only, fake credentials) holding the stack's resources."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        fill_api_key_gaps()
        settings = Settings.from_context(load_cdk_json_context("cdk.json"))
        with mock_aws():
            _, usage_plan_ids = create_api(boto3.client("apigateway"), settings)
            usage_counters = counters_for(
                {
                    usage_plan_ids[plan.id]: (None if settings.pool_size(plan) else plan.quota_limit, plan.quota_period)
                    for plan in settings.plans
                }
            )
            answer_usage_plan_usage(usage_counters)
            accounts_table, idempotency_table = create_tables(boto3.client("dynamodb"))
            keys_table = create_keys_table(boto3.client("dynamodb"))
            secrets_manager = boto3.client("secretsmanager")
            stripe_secret_arn = secrets_manager.create_secret(
                Name="tollgate-test-stripe",
                SecretString=json.dumps(
                    {
                        contract.SECRET_FIELD_STRIPE_SECRET_KEY: STRIPE_TEST_SECRET_KEY,
                        contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
                    }
                ),
            )["ARN"]
            moesif_secret_arn = secrets_manager.create_secret(
                Name="tollgate-test-moesif",
                SecretString=json.dumps(
                    {
                        contract.SECRET_FIELD_MOESIF_APPLICATION_ID: MOESIF_APPLICATION_ID,
                    }
                ),
            )["ARN"]
            usage = create_usage_metering(
                boto3.client("s3"),
                boto3.client("sqs"),
                boto3.client("dynamodb"),
                create_ledger_bucket(boto3.client("s3")),
            )
            access_table = create_customer_accounts(
                boto3.client("dynamodb"), boto3.client("sesv2"), settings.email_sender
            )
            provision_key_pools(
                boto3.client("apigateway"),
                boto3.client("dynamodb"),
                accounts_table,
                KEY_OWNER,
                runtime_catalog(settings.plans, usage_plan_ids, settings.free_pool_size),
            )
            yield MotoStack(
                usage_plan_ids,
                accounts_table,
                idempotency_table,
                stripe_secret_arn,
                moesif_secret_arn,
                usage,
                access_table,
                settings,
                usage_counters,
                keys_table,
                create_credits_table(boto3.client("dynamodb")),
            )
