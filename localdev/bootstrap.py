"""Creates in the emulators what the stack creates in AWS (and `make stripe-setup` in Stripe), from
the same cdk.json settings, and returns the environment the Lambda handlers get.

- API Gateway (moto): a REST API with the stack's routes, a stage named `stage_name`, and the
  usage plan with the settings' throttle and quota on that stage; with usage_reporter=tollgate, the
  "limit reached" usage plan (quota 0) and its one key, whose value only the authorizer is told, as
  infra/usage_limits.py;
- DynamoDB (moto): the accounts table (key, GSIs and TTL from tollgate.contract, as infra/billing_lifecycle.py) and
  the Powertools idempotency table;
- Secrets Manager (moto): the Stripe and the Moesif secret, every contract field filled with a
  local test value, and the backend secret (a random value, as GenerateSecretString makes it)
  that the local gateway sends its backend, as the stage does (infra/backend.py);
- S3, SQS, DynamoDB (moto): the usage ledger bucket and, with usage_reporter=tollgate, its
  `ledger/` notification to the usage queue (dead letters after contract.USAGE_QUEUE_MAX_RECEIVES
  deliveries) and the usage reports table, as infra/log_forwarding.py and infra/usage_metering.py;
- Stripe (localstripe behind the bridge): product, billing meter, metered price and customer portal
  configuration through ops.catalog_setup.CatalogSetup, and the webhook endpoint pointing at the
  local gateway's `/stripe/webhook`, whose signing secret goes into the secret;
- customer accounts (DynamoDB, SES v2 in moto): the customer access table (TTL, `byOwner` and `due`
  indexes, as infra/customer_accounts.py) and the `email_sender` identity, verified.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import boto3

from infra.plan_settings import PlanSettings, runtime_catalog, usage_plan_limits
from infra.settings import Settings
from localdev.dev_tables import (
    NAME,
    create_credits_table,
    create_customer_accounts,
    create_keys_table,
    create_tables,
    create_usage_counts_table,
)
from localdev.emulators import STRIPE_TEST_SECRET_KEY, Emulators
from localdev.gateway import GatewayDeployment
from localdev.site_server import origin_of
from ops.catalog_setup import CatalogSetup
from ops.catalog_spec import CatalogSpec
from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.dynamo_key_pools import DynamoKeyPools
from tollgate.adapters.stripe_client import stripe_client
from tollgate.domain.key_pools import KeyPoolProvisioner
from tollgate.plans import PlanCatalog

MOESIF_TEST_APPLICATION_ID = "tollgate-local-moesif-application-id"
LIMIT_REACHED_QUOTA = (0, "DAY")  # infra/usage_limits.py's usage plan: no call a day
DEV_CATALOG = CatalogSpec(
    product_name="Tollgate API (local)",
    meter_event_name="tollgate_local_api_calls",
    pricing_model="per-unit",
    unit_amount_decimal=Decimal("0.1"),
)


def dev_catalog(plan: PlanSettings, first_paid: bool) -> CatalogSpec:
    """The Stripe product, meter and price a paid plan gets in the Stripe emulator (cdk.json's price
    ids name objects of a real Stripe account): the first paid plan's is DEV_CATALOG, every other
    plan has its own meter, as `make stripe-setup --plans` makes them."""
    if first_paid:
        return DEV_CATALOG
    return replace(
        DEV_CATALOG,
        product_name=f"Tollgate API (local, {plan.name})",
        meter_event_name=f"tollgate_local_{plan.id}_calls",
        lookup_key=f"tollgate_{plan.id}",
    )


@dataclass(frozen=True)
class LocalDeployment:
    """What bootstrap created: the gateway's view of it and the functions' environment."""

    gateway: GatewayDeployment
    function_environment: dict[str, str]
    plans: PlanCatalog  # as the functions read them: the emulators' usage plan and price ids
    ledger_bucket: str
    usage: UsageMetering | None  # None with usage_reporter=moesif
    limit_reached: LimitReached | None = None  # None with usage_reporter=moesif


@dataclass(frozen=True)
class LimitReached:
    """The "limit reached" usage plan (quota 0: every call on it is the stage's 429) and its key's value."""

    usage_plan_id: str
    key_value: str = field(repr=False)  # never shown: only the authorizer is told it

    @property
    def quota(self) -> tuple[int, str]:
        return LIMIT_REACHED_QUOTA


def aws_client(service: str, emulators: Emulators) -> Any:
    """A boto3 client on the emulated AWS, with the same fake credentials the functions get."""
    env = emulators.env()
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def bootstrap(
    settings: Settings, emulators: Emulators, site_url: str, api_url: str, sample_backend_url: str
) -> LocalDeployment:
    """Create everything once, in emulators that start empty. Metered calls go to `backend_url`,
    else to the sample backend at `sample_backend_url` (`backend_function_arn` cannot run locally:
    the sample backend answers for it)."""
    rest_api_id, usage_plan_ids = create_api(aws_client("apigateway", emulators), settings)
    accounts_table, idempotency_table = create_tables(aws_client("dynamodb", emulators))
    keys_table = create_keys_table(aws_client("dynamodb", emulators))
    credits_table = create_credits_table(aws_client("dynamodb", emulators))
    catalog_setup = CatalogSetup(stripe_client(STRIPE_TEST_SECRET_KEY, api_base=emulators.stripe_api_base))
    webhook = catalog_setup.ensure_webhook(api_url.rstrip("/") + contract.ROUTE_STRIPE_WEBHOOK)
    if not webhook.signing_secret:
        raise RuntimeError("the Stripe emulator registered the webhook endpoint without a signing secret")
    paid = [plan for plan in settings.plans if not plan.is_free and plan.prepaid is None]  # the metered plans
    prices = {plan.id: catalog_setup.ensure(dev_catalog(plan, plan is paid[0])).price_id for plan in paid}
    plans = runtime_catalog(
        tuple(replace(plan, stripe_price_id=prices.get(plan.id)) for plan in settings.plans),
        usage_plan_ids,
        settings.free_pool_size,
    )
    provision_key_pools(
        aws_client("apigateway", emulators),
        aws_client("dynamodb", emulators),
        accounts_table,
        f"{NAME}/{settings.stage_name}",
        plans,
    )
    secrets_manager = aws_client("secretsmanager", emulators)
    stripe_secret_arn = secrets_manager.create_secret(
        Name=f"{NAME}-stripe",
        SecretString=json.dumps(
            {
                contract.SECRET_FIELD_STRIPE_SECRET_KEY: STRIPE_TEST_SECRET_KEY,
                contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: webhook.signing_secret,
            }
        ),
    )["ARN"]
    moesif_secret_arn = secrets_manager.create_secret(
        Name=f"{NAME}-moesif",
        SecretString=json.dumps(
            {
                contract.SECRET_FIELD_MOESIF_APPLICATION_ID: MOESIF_TEST_APPLICATION_ID,
            }
        ),
    )["ARN"]
    access_table = create_customer_accounts(
        aws_client("dynamodb", emulators), aws_client("sesv2", emulators), settings.email_sender
    )
    ledger_bucket = create_ledger_bucket(aws_client("s3", emulators))
    usage = (
        create_usage_metering(
            aws_client("s3", emulators), aws_client("sqs", emulators), aws_client("dynamodb", emulators), ledger_bucket
        )
        if settings.reports_usage
        else None
    )
    limit_reached = (
        create_limit_reached_key(aws_client("apigateway", emulators), rest_api_id, settings.stage_name)
        if settings.reports_usage
        else None
    )
    backend_secret = "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(contract.BACKEND_SECRET_LENGTH)
    )
    backend_secret_arn = secrets_manager.create_secret(Name=f"{NAME}-backend", SecretString=backend_secret)["ARN"]
    site_origin = origin_of(site_url)
    environment = {
        **(usage.environment(settings.billable_statuses) if usage else {}),
        # The authorizer's alone in the stack; here every function runs in one process, and none shows it.
        **({contract.ENV_LIMIT_REACHED_KEY: limit_reached.key_value} if limit_reached else {}),
        **settings.customer_accounts_environment(access_table),
        **emulators.env(),
        contract.ENV_STRIPE_SECRET_ARN: stripe_secret_arn,
        contract.ENV_MOESIF_SECRET_ARN: moesif_secret_arn,
        contract.ENV_ACCOUNTS_TABLE: accounts_table,
        contract.ENV_KEYS_TABLE: keys_table,
        contract.ENV_CREDITS_TABLE: credits_table,
        contract.ENV_IDEMPOTENCY_TABLE: idempotency_table,
        contract.ENV_PLANS: plans.to_json(),
        contract.ENV_KEY_OWNER: f"{NAME}/{settings.stage_name}",
        contract.ENV_SIGNUP_URL: site_url.rstrip("/") + "/",
        contract.ENV_STAGE: settings.stage_name,
        contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(settings.canceled_key_retention_days),
        contract.ENV_BACKEND_SECRET_ARN: backend_secret_arn,  # what the sample backend checks
    }
    gateway = GatewayDeployment(
        rest_api_id=rest_api_id,
        stage_name=settings.stage_name,
        usage_plan_ids=plans.usage_plan_ids + ((limit_reached.usage_plan_id,) if limit_reached else ()),
        site_origin=site_origin,
        backend_url=settings.backend_url or sample_backend_url,
        firehose_url=emulators.moesif.firehose_url,
        firehose_access_key=MOESIF_TEST_APPLICATION_ID,
        backend_secret=backend_secret,
        authorizer_cache_seconds=settings.authorizer_cache_seconds,
    )
    return LocalDeployment(gateway, environment, plans, ledger_bucket, usage, limit_reached)


def create_api(apigateway: Any, settings: Settings) -> tuple[str, dict[str, str]]:
    """REST API with the stack's routes (mock integrations: the local gateway runs them), one
    stage, and a usage plan per plan on it (plan id -> usage plan id)."""
    api_id = apigateway.create_rest_api(name=NAME, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root_id = next(item["id"] for item in apigateway.get_resources(restApiId=api_id)["items"] if item["path"] == "/")

    def add_method(resource_id: str, method: str, api_key_required: bool) -> None:
        apigateway.put_method(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=method,
            authorizationType="NONE",
            apiKeyRequired=api_key_required,
        )
        apigateway.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=method, type="MOCK")

    add_method(root_id, "ANY", api_key_required=True)
    proxy_id = apigateway.create_resource(
        restApiId=api_id, parentId=root_id, pathPart=contract.ROUTE_METERED_PROXY.lstrip("/")
    )["id"]
    add_method(proxy_id, "ANY", api_key_required=True)
    resource_ids = {"/": root_id}
    for route in contract.PUBLIC_ROUTES:
        parent = "/"
        for part in route.strip("/").split("/"):
            path = parent.rstrip("/") + "/" + part
            if path not in resource_ids:
                resource_ids[path] = apigateway.create_resource(
                    restApiId=api_id, parentId=resource_ids[parent], pathPart=part
                )["id"]
            parent = path
        add_method(resource_ids[route], "POST", api_key_required=False)
    apigateway.create_deployment(restApiId=api_id, stageName=settings.stage_name)
    usage_plan_ids = {}
    for plan in settings.plans:
        limits = usage_plan_limits(plan, pooled=settings.pool_size(plan) > 0)
        quota = (
            {}
            if limits.quota_limit is None
            else {"quota": {"limit": limits.quota_limit, "period": limits.quota_period}}
        )
        usage_plan_ids[plan.id] = apigateway.create_usage_plan(
            name=f"{NAME}-{plan.id}",
            apiStages=[{"apiId": api_id, "stage": settings.stage_name}],
            throttle={"rateLimit": limits.rate_limit, "burstLimit": limits.burst_limit},
            **quota,
        )["id"]
    return api_id, usage_plan_ids


def create_limit_reached_key(apigateway: Any, rest_api_id: str, stage_name: str) -> LimitReached:
    """The "limit reached" usage plan on the stage and its one enabled key (infra/usage_limits.py)."""
    limit, period = LIMIT_REACHED_QUOTA
    usage_plan_id = apigateway.create_usage_plan(
        name=f"{NAME}-limit-reached",
        apiStages=[{"apiId": rest_api_id, "stage": stage_name}],
        quota={"limit": limit, "period": period},
    )["id"]
    key = apigateway.create_api_key(
        name=f"{NAME}-limit-reached", enabled=True, value=contract.LIMIT_REACHED_KEY_PREFIX + secrets.token_hex(16)
    )
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    return LimitReached(usage_plan_id, key["value"])


def provision_key_pools(apigateway: Any, dynamodb: Any, accounts_table: str, owner: str, plans: PlanCatalog) -> None:
    """Make the pooled plans' shard keys at once, as the deployed housekeeping does within its first run
    (the emulator has no creation rate limit to pace for)."""
    provisioner = KeyPoolProvisioner(
        ApiGatewayKeys(apigateway, owner),
        DynamoKeyPools(dynamodb, accounts_table),
        plans,
        creations_per_second=1_000_000,
    )
    run = provisioner.provision(deadline=float("inf"))
    if run.problem or run.missing:
        raise RuntimeError(f"could not make the pooled plans' keys: {run.problem or run.missing} missing")


@dataclass(frozen=True)
class UsageMetering:
    """The usage-metering resources (usage_reporter=tollgate), as infra/usage_metering.py makes them."""

    ledger_bucket: str
    reports_table: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    counts_table: str

    def environment(self, billable_statuses: str) -> dict[str, str]:
        """What the stack adds to the functions' environment for them."""
        return {
            contract.ENV_USAGE_LEDGER_BUCKET: self.ledger_bucket,
            contract.ENV_USAGE_REPORTS_TABLE: self.reports_table,
            contract.ENV_USAGE_COUNTS_TABLE: self.counts_table,
            contract.ENV_USAGE_QUEUE_URL: self.queue_url,
            contract.ENV_USAGE_DEAD_LETTER_QUEUE_URL: self.dead_letter_queue_url,
            contract.ENV_BILLABLE_STATUSES: billable_statuses,
        }


def create_ledger_bucket(s3: Any, name: str = NAME) -> str:
    bucket = f"{name}-usage-ledger"
    s3.create_bucket(Bucket=bucket)
    return bucket


def create_usage_metering(s3: Any, sqs: Any, dynamodb: Any, bucket: str, name: str = NAME) -> UsageMetering:
    """S3 announcing the ledger bucket's new `ledger/` objects on the usage queue (dead letters after
    contract.USAGE_QUEUE_MAX_RECEIVES deliveries), and the usage reports table with its sparse
    `pending` index and TTL."""

    def queue_arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    dead_letters = sqs.create_queue(QueueName=f"{name}-usage-dead-letters")["QueueUrl"]
    queue = sqs.create_queue(
        QueueName=f"{name}-usage",
        Attributes={
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": queue_arn(dead_letters),
                    "maxReceiveCount": str(contract.USAGE_QUEUE_MAX_RECEIVES),
                }
            )
        },
    )["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn(queue),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": contract.USAGE_LEDGER_PREFIX}]}},
                }
            ]
        },
    )
    table = f"{name}-usage-reports"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": contract.USAGE_REPORTS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.USAGE_REPORTS_ATTR_PENDING, "AttributeType": "S"},
            {"AttributeName": contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT, "AttributeType": "N"},
            {"AttributeName": contract.USAGE_REPORTS_ATTR_CUSTOMER_ID, "AttributeType": "S"},
            {"AttributeName": contract.USAGE_REPORTS_ATTR_TIMESTAMP, "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": contract.USAGE_REPORTS_PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": contract.USAGE_REPORTS_INDEX_PENDING,
                "KeySchema": [
                    {"AttributeName": contract.USAGE_REPORTS_ATTR_PENDING, "KeyType": "HASH"},
                    {"AttributeName": contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": contract.USAGE_REPORTS_INDEX_BY_CUSTOMER,
                "KeySchema": [
                    {"AttributeName": contract.USAGE_REPORTS_ATTR_CUSTOMER_ID, "KeyType": "HASH"},
                    {"AttributeName": contract.USAGE_REPORTS_ATTR_TIMESTAMP, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["value"]},
            },
        ],
    )
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.USAGE_REPORTS_TTL_ATTRIBUTE},
    )
    return UsageMetering(
        bucket, table, queue, queue_arn(queue), dead_letters, create_usage_counts_table(dynamodb, name)
    )
