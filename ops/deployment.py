"""Which Tollgate deployment an ops command acts on, found the same way by every ops command.

In this order:
1. `--stack NAME` or `--function NAME`: a deployed stack, read with the shell's AWS credentials
   and region (as the AWS CLI finds them): the stack's `RegisterFunctionName` output names its
   register function, whose settings (its environment) say where everything is;
2. the TOLLGATE_* environment variables, tollgate.contract's names (what every function gets);
3. a running `make dev`: while it runs it publishes its functions' environment, emulator
   endpoints included, in DEV_STACK_FILE (`.tollgate/dev-stack.json`, git-ignored), and removes
   the file when it stops.
Without any of them the error names all three.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tollgate import contract
from tollgate.adapters.aws_clients import AwsClients
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConfigurationError, TollgateError
from tollgate.wiring import Wiring

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_STACK_FILE_ENV = "DEV_STACK_FILE"  # where make dev publishes itself (tests give each stack its own)
DEFAULT_DEV_STACK_FILE = PROJECT_ROOT / ".tollgate" / "dev-stack.json"
TOLLGATE_VARIABLE_PREFIX = "TOLLGATE_"
EXAMPLE_STACK = contract.STACK_NAME
EXAMPLE_FUNCTION = "Tollgate-prod-register"
WAYS_TO_CHOOSE = (
    "Which deployment, in this order:\n"
    f"  --stack NAME          a deployed stack, by its CloudFormation name (e.g. {EXAMPLE_STACK}), or\n"
    f"  --function NAME       by its register function (e.g. {EXAMPLE_FUNCTION}); both read with your AWS\n"
    "                        credentials and region (AWS_PROFILE or keys, AWS_DEFAULT_REGION)\n"
    f"  {TOLLGATE_VARIABLE_PREFIX}* variables  the settings a function gets (names in tollgate.contract.environment)\n"
    "  a running make dev    the local stack: start `make dev` in another terminal, then run this"
)


@dataclass(frozen=True)
class Deployment:
    """The functions' settings of one deployment, where they came from (said to the user), and
    what this process must set so that boto3 reaches that deployment's AWS (make dev: moto)."""

    config: RuntimeConfig
    source: str
    sdk_environment: Mapping[str, str] = field(default_factory=dict)

    def connect(self) -> None:
        """Point this process's AWS SDK at the deployment; fail, saying what to set, without a
        region or credentials."""
        os.environ.update(self.sdk_environment)
        require_aws_session()


def wired_deployment(arguments: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Deployment, Wiring]:
    """The deployment to act on (said on stderr), connected, and its adapters: what every ops
    command starts with."""
    deployment = connect(arguments, environ)
    return deployment, Wiring(deployment.config)


def connect(arguments: argparse.Namespace, environ: Mapping[str, str]) -> Deployment:
    """The deployment the parsed `add_deployment_options` choose (find_deployment), its AWS SDK
    endpoints set up, said on stderr."""
    deployment = find_deployment(environ, function_name=arguments.function, stack_name=arguments.stack)
    deployment.connect()
    print(f"Using {deployment.source}.", file=sys.stderr)
    return deployment


def find_deployment(
    environ: Mapping[str, str], *, function_name: str | None = None, stack_name: str | None = None
) -> Deployment:
    """The deployment to act on, by the order in the module docstring."""
    if stack_name:
        require_aws_session()
        function_name = _register_function_of(stack_name)
        return Deployment(
            RuntimeConfig.from_environ(_function_environment(function_name)),
            f"stack {stack_name} (function {function_name})",
        )
    if function_name:
        require_aws_session()
        return Deployment(RuntimeConfig.from_environ(_function_environment(function_name)), f"function {function_name}")
    if any(name.startswith(TOLLGATE_VARIABLE_PREFIX) for name in environ):
        try:
            return Deployment(
                RuntimeConfig.from_environ(environ), f"the {TOLLGATE_VARIABLE_PREFIX}* environment variables"
            )
        except ConfigurationError as error:
            raise ConfigurationError(
                f"{error} Set the other {TOLLGATE_VARIABLE_PREFIX}* variables too, or unset them all and pass "
                f"--stack <the deployed stack, e.g. {EXAMPLE_STACK}> or run `make dev`."
            ) from None
    running = dev_deployment(dev_stack_file(environ))
    if running is not None:
        return running
    raise ConfigurationError(f"no Tollgate deployment to act on.\n{WAYS_TO_CHOOSE}")


def dev_deployment(stack_file: Path) -> Deployment | None:
    """The make dev that published `stack_file`, if it still runs."""
    running = running_dev_stack(stack_file)
    if running is None:
        return None
    return Deployment(
        RuntimeConfig.from_environ(running),
        f"the running make dev stack ({_shown_path(stack_file)})",
        {name: value for name, value in running.items() if name.startswith("AWS_")},
    )


def add_deployment_options(parser: argparse.ArgumentParser) -> None:
    """`--stack NAME` | `--function NAME`, the first way to choose a deployment (WAYS_TO_CHOOSE)."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--stack", metavar="NAME", help=f"act on this deployed CloudFormation stack (e.g. {EXAMPLE_STACK})"
    )
    choice.add_argument(
        "--function",
        metavar="NAME",
        help=f"act on the deployed stack of this register function (e.g. {EXAMPLE_FUNCTION})",
    )


def dev_stack_file(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(DEV_STACK_FILE_ENV) or DEFAULT_DEV_STACK_FILE)


def publish_dev_stack(
    path: Path, function_environment: Mapping[str, str], urls: Mapping[str, str] | None = None
) -> None:
    """make dev, once it serves: its functions' environment, its addresses (the API, the site, the
    mailbox: what `make smoke` calls) and its process id, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(
        json.dumps({"pid": os.getpid(), "environment": dict(function_environment), "urls": dict(urls or {})}, indent=2)
    )
    draft.replace(path)


def withdraw_dev_stack(path: Path) -> None:
    """make dev, when it stops: remove the file if it is still this process's own."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_dev_stack(path: Path) -> dict[str, str] | None:
    """The functions' environment of the make dev that published `path`, if it still runs (a
    make dev killed with SIGKILL leaves its file behind; that one is ignored)."""
    return _published(path, "environment")


def running_dev_urls(path: Path) -> dict[str, str] | None:
    """The addresses (`api`, `site`, `mailbox`, ...) of the make dev that published `path`, if it still runs."""
    return _published(path, "urls")


def _published(path: Path, part: str) -> dict[str, str] | None:
    try:
        published = json.loads(path.read_text())
        os.kill(int(published["pid"]), 0)
    except PermissionError:
        pass  # alive, under another user
    except (OSError, ValueError, KeyError, TypeError):
        return None
    values = published.get(part)
    return {str(name): str(value) for name, value in values.items()} if isinstance(values, dict) else None


def require_aws_session() -> None:
    """Fail before any call, with what to do, when boto3 has no region or no credentials."""
    import boto3

    session = boto3.Session()
    if session.region_name is None:
        raise TollgateError(
            "no AWS region: set AWS_DEFAULT_REGION (e.g. AWS_DEFAULT_REGION=eu-west-1) to the "
            "stack's region, or `region` in ~/.aws/config."
        )
    if session.get_credentials() is None:
        raise TollgateError(
            "no AWS credentials: configure them as for the AWS CLI (`aws configure`, AWS_PROFILE, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)."
        )


def stack_outputs(stack_name: str) -> dict[str, str]:
    """The deployed stack's CloudFormation outputs, by output key (DescribeStacks)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        (stack,) = AwsClients().client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise TollgateError(f"cannot read stack {stack_name}: {error}") from None
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _register_function_of(stack_name: str) -> str:
    """The register function the stack's output names (contract.STACK_OUTPUT_REGISTER_FUNCTION)."""
    outputs = stack_outputs(stack_name)
    if contract.STACK_OUTPUT_REGISTER_FUNCTION not in outputs:
        raise TollgateError(
            f"stack {stack_name} has no {contract.STACK_OUTPUT_REGISTER_FUNCTION} output: is it a "
            f"Tollgate stack, deployed with this version (`make deploy`)? Or pass --function NAME."
        )
    return outputs[contract.STACK_OUTPUT_REGISTER_FUNCTION]


def _function_environment(function_name: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        configuration = AwsClients().client("lambda").get_function_configuration(FunctionName=function_name)
    except (BotoCoreError, ClientError) as error:
        raise TollgateError(f"cannot read the settings of function {function_name}: {error}") from None
    return configuration.get("Environment", {}).get("Variables", {})


def _shown_path(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
