"""What every Tollgate function shares: the one code asset (bundled locally, no Docker), the
function construct (own role, log group, cap) and the one environment every business function reads.
Each feature (infra/signup.py, billing_lifecycle.py, ...) makes its functions through `Functions`
and grants their IAM."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, FileSystem, ILocalBundling, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import lambda_asset
from infra.nag import acknowledge
from tollgate import contract

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


class PythonFunction(Construct):
    """One function of the shared asset with its own role, log group (with retention) and cap.

    The physical name is fixed so that the API can integrate with the function by ARN without a
    reference to the resource: the functions' environment names the usage plan, the usage plan
    names the stage, and the stage's deployment contains the methods, so a Ref from the methods
    back to the functions would be a circular dependency.

    The role starts empty apart from writing to its own log group, so every other permission is
    granted explicitly by the feature that owns the function (no AWSLambdaBasicExecutionRole managed policy).
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


class Functions:
    """How the stack makes its functions: the one code asset, names `<stack>-<stage>-<handler>`, the
    reserved concurrency of the public ones, and the one environment every business function gets.

    The environment is one on purpose: the functions share the runtime's settings (tollgate/config.py)
    and the ops commands read the deployment's settings from any of them. Each feature `provide`s the
    entries of what it owns (contract.ENV_*); every business function gets every entry, whichever
    feature was built first (a function's environment is rendered at synth, so an entry provided
    after the function still reaches it), so the features need no build order for it."""

    def __init__(self, *, name_prefix: str, reserved_concurrency: int, code: lambda_.Code | None = None) -> None:
        self.code = code or shared_code_asset()
        self.name_prefix = name_prefix
        self.reserved_concurrency = reserved_concurrency
        self._environment: dict[str, str] = {}
        self._business: list[lambda_.Function] = []

    def provide(self, entries: dict[str, str]) -> None:
        """Entries for every business function's environment, made or to be made."""
        overlap = set(entries) & set(self._environment)
        assert not overlap, f"environment entries provided twice: {sorted(overlap)}"
        self._environment.update(entries)
        for function in self._business:
            for name, value in entries.items():
                function.add_environment(name, value)

    def business(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        timeout: Duration,
        description: str,
        public: bool = False,
        memory_size: int = 512,
    ) -> PythonFunction:
        """A function of the runtime with the shared environment; a `public` one (behind an API route)
        is capped by `reserved_concurrency`."""
        made = self.function(
            scope,
            construct_id,
            handler=handler,
            timeout=timeout,
            description=description,
            memory_size=memory_size,
            reserved_concurrency=self.reserved_concurrency if public else None,
        )
        self._business.append(made.function)
        for name, value in self._environment.items():
            made.function.add_environment(name, value)
        return made

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        timeout: Duration,
        description: str,
        memory_size: int = 512,
        reserved_concurrency: int | None = None,
        environment: dict[str, str] | None = None,
    ) -> PythonFunction:
        """A function of the shared asset without the shared environment, told only `environment` (the
        sample backend, the key authorizer)."""
        return PythonFunction(
            scope,
            construct_id,
            code=self.code,
            handler=handler,
            timeout=timeout,
            function_name=self.name_of(handler),
            description=description,
            environment=environment,
            memory_size=memory_size,
            reserved_concurrency=reserved_concurrency,
        )

    def name_of(self, handler: str) -> str:
        """The fixed physical name of `handler`'s function (the API integrates by it, see PythonFunction)."""
        return f"{self.name_prefix}-{handler.split('.')[-2].replace('_', '-')}"
