"""The Lambda functions, their one shared code asset (bundled locally, no Docker) and their IAM."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, FileSystem, ILocalBundling, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import lambda_asset
from infra.api_key_access import ApiKeyAccess
from infra.nag import acknowledge, acknowledge_wildcards, arn_of
from infra.plan_settings import PlanSettings, runtime_catalog
from tollgate import contract
from tollgate.plans import PlanCatalog

LAMBDA_SRC = lambda_asset.LAMBDA_SRC
RUNTIME = lambda_.Runtime.PYTHON_3_12  # lambda_asset.PYTHON_VERSION compiles for it (a test keeps them equal)
ARCHITECTURE = lambda_.Architecture.ARM_64  # lambda_asset.ARCHITECTURE installs wheels for it (same test)
# The other functions are far quicker than the register flow (see contract.REGISTER_TIMEOUT_SECONDS).
REGISTER_TIMEOUT = Duration.seconds(contract.REGISTER_TIMEOUT_SECONDS)
_SOURCE_EXCLUDES = ["**/__pycache__", "**/*.pyc"]


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Builds the asset on this machine with infra.lambda_asset.build_asset: the locked wheels for
    the Lambda's platform, the `tollgate` package, bytecode for the runtime's Python.

    Needs PyPI (or a configured index) and a Python of the runtime's version at synth time. It
    never declines: a failure raises, so CDK never falls back to the Docker image.
    """

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, _options: BundlingOptions) -> bool:
        lambda_asset.build_asset(Path(output_dir), source=self._source)
        return True


def shared_code_asset() -> lambda_.Code:
    """ONE asset for every function (bundled once). When a test skips bundling
    (context aws:cdk:bundling-stacks=[]), CDK uses lambda_src/ itself as the asset.

    The asset hash covers the sources AND the build recipe (infra/lambda_asset.py): CDK's default
    source hash would keep an old bundle, and skip its upload, after a change to what is bundled."""
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        exclude=_SOURCE_EXCLUDES,
        asset_hash=FileSystem.fingerprint(
            str(LAMBDA_SRC), exclude=_SOURCE_EXCLUDES, extra_hash=lambda_asset.recipe_fingerprint()
        ),
        bundling=BundlingOptions(
            # Required by the API but never pulled: PipLocalBundling always bundles or raises.
            image=DockerImage.from_registry("local-bundling-only"),
            local=PipLocalBundling(LAMBDA_SRC),
        ),
    )


@dataclass(frozen=True)
class FunctionConfig:
    """What every business function is told through its environment (names from tollgate.contract)."""

    stripe_secret: secretsmanager.ISecret
    moesif_secret: secretsmanager.ISecret
    accounts_table: dynamodb.ITable
    keys_table: dynamodb.ITable  # the customers' keys, by hash (infra/data.py)
    idempotency_table: dynamodb.ITable
    plans: tuple[PlanSettings, ...]
    usage_plans: dict[str, apigw.IUsagePlan]  # plan id -> its usage plan (infra/api.py)
    key_owner: str  # the value of contract.API_KEY_OWNER_TAG on every key this deployment creates
    signup_url: str
    stage_name: str
    canceled_key_retention_days: int
    # Where usage metering lives (infra/usage_metering.py), empty with usage_reporter=moesif.
    usage_environment: dict[str, str] = field(default_factory=dict)
    # Customer accounts (infra/customer_accounts.py): the access table and the email settings.
    accounts_environment: dict[str, str] = field(default_factory=dict)

    def plan_catalog(self) -> PlanCatalog:
        """The plans as the functions read them (usage plan ids are tokens until deploy)."""
        return runtime_catalog(self.plans, {plan_id: plan.usage_plan_id for plan_id, plan in self.usage_plans.items()})

    def environment(self) -> dict[str, str]:
        return {
            **self.usage_environment,
            **self.accounts_environment,
            contract.ENV_STRIPE_SECRET_ARN: self.stripe_secret.secret_arn,
            contract.ENV_MOESIF_SECRET_ARN: self.moesif_secret.secret_arn,
            contract.ENV_ACCOUNTS_TABLE: self.accounts_table.table_name,
            contract.ENV_KEYS_TABLE: self.keys_table.table_name,
            contract.ENV_IDEMPOTENCY_TABLE: self.idempotency_table.table_name,
            contract.ENV_PLANS: self.plan_catalog().to_json(),
            contract.ENV_KEY_OWNER: self.key_owner,
            contract.ENV_SIGNUP_URL: self.signup_url,
            contract.ENV_STAGE: self.stage_name,
            contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(self.canceled_key_retention_days),
        }


class PythonFunction(Construct):
    """One function of the shared asset with its own role, log group (with retention) and cap.

    The physical name is fixed so that the API can integrate with the function by ARN without a
    reference to the resource: the functions' environment names the usage plan, the usage plan
    names the stage, and the stage's deployment contains the methods, so a Ref from the methods
    back to the functions would be a circular dependency.

    The role starts empty apart from writing to its own log group, so every other permission is
    granted explicitly by TollgateFunctions (no AWSLambdaBasicExecutionRole managed policy).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        function_name: str,
        handler: str,
        description: str,
        timeout: Duration,
        environment: dict[str, str] | None = None,
        memory_size: int = 512,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            function_name=function_name,
            handler=handler,
            description=description,
            timeout=timeout,
            memory_size=memory_size,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            reserved_concurrent_executions=reserved_concurrency or None,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"tollgate-{construct_id.lower()}",
                **(environment or {}),
            },
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name}, the runtime the bundled wheels and the tests target; bump "
            "infra/functions.py RUNTIME and infra/lambda_asset.py PYTHON_VERSION together.",
        )


class TollgateFunctions(Construct):
    """register, checkout, stripe webhook and (without a backend URL) the sample backend.

    Least privilege, per function:
    - register: create/read/delete this deployment's API keys (infra/api_key_access.py: every key
      grant is conditioned on the owner tag), add/remove keys in this deployment's usage plans, read THIS stack's
      Stripe and Moesif secrets, read/write the accounts and idempotency tables.
    - checkout: read an API key (to check the presented value), read the Stripe secret, read accounts.
    - webhook: enable/disable API keys, move keys between the usage plans (require_payment_method
      activation, plan changes), read the Stripe secret, read/write accounts.
    - sample backend: nothing beyond its own logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: FunctionConfig,
        reserved_concurrency: int,
        with_sample_backend: bool,
        name_prefix: str,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.code = code or shared_code_asset()
        self.environment = environment = config.environment()

        def function(construct_id: str, handler: str, timeout: Duration, description: str, **extra) -> PythonFunction:
            slug = handler.split(".")[-2].replace("_", "-")
            return PythonFunction(
                self,
                construct_id,
                code=self.code,
                function_name=f"{name_prefix}-{slug}",
                handler=handler,
                timeout=timeout,
                description=description,
                **extra,
            )

        public = {"environment": environment, "reserved_concurrency": reserved_concurrency}
        self.register = function(
            "Register",
            contract.HANDLER_REGISTER,
            REGISTER_TIMEOUT,
            "Tollgate POST /register: API key + Stripe subscription + Moesif user, or nothing",
            **public,
        )
        self.checkout = function(
            "Checkout",
            contract.HANDLER_CHECKOUT,
            Duration.seconds(15),
            "Tollgate POST /billing/checkout: Stripe Checkout (setup mode) for the key's customer",
            **public,
        )
        self.stripe_webhook = function(
            "StripeWebhook",
            contract.HANDLER_STRIPE_WEBHOOK,
            Duration.seconds(20),
            "Tollgate POST /stripe/webhook: API keys follow the Stripe subscription",
            **public,
        )
        self.sample_backend = (
            function(
                "SampleBackend",
                contract.HANDLER_SAMPLE_BACKEND,
                Duration.seconds(5),
                "Tollgate sample backend: echoes method, path and the caller's API key id",
                memory_size=128,
            )
            if with_sample_backend
            else None
        )

        keys = ApiKeyAccess(Stack.of(self), tuple(config.usage_plans.values()), config.key_owner)
        keys.grant_create(self.register.role)
        keys.grant_read(self.register.role)
        keys.grant_delete(self.register.role)
        keys.grant_plan_membership(self.register.role, attach=True, detach=True)
        config.stripe_secret.grant_read(self.register.role)
        config.moesif_secret.grant_read(self.register.role)
        config.accounts_table.grant_read_write_data(self.register.role)
        config.keys_table.grant_read_write_data(self.register.role)  # the new key's item (removed on rollback)
        config.idempotency_table.grant_read_write_data(self.register.role)

        keys.grant_read(self.checkout.role)
        config.stripe_secret.grant_read(self.checkout.role)
        config.accounts_table.grant_read_data(self.checkout.role)
        config.keys_table.grant(self.checkout.role, "dynamodb:GetItem")  # the presented key, by its hash

        keys.grant_enable(self.stripe_webhook.role)
        keys.grant_plan_membership(self.stripe_webhook.role, attach=True, detach=True)  # plan changes move keys
        config.stripe_secret.grant_read(self.stripe_webhook.role)
        config.accounts_table.grant_read_write_data(self.stripe_webhook.role)
        config.keys_table.grant_read_write_data(self.stripe_webhook.role)  # key items follow the account's status

        index_wildcard = [f"Resource::{arn_of(config.accounts_table)}/index/*"]
        index_reason = "The accounts table's GSIs (lookups by key, customer, subscription) are only reachable as <table>/index/*."
        for role in (self.register.role, self.checkout.role, self.stripe_webhook.role):
            acknowledge_wildcards(role, index_wildcard, index_reason)
