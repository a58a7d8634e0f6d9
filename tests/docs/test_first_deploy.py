"""docs/first-deploy.md: every command of its ```bash blocks is a real one, checked as strongly as can
be without an AWS or Stripe account, in seconds:
- `make TARGET [ARGS="..."]`: a documented target of the Makefile that `make -n` accepts, and ARGS
  accepted by the parser of the command the target runs (an ops module's argparse; `make deploy`'s
  options by the pinned CDK CLI's `cdk deploy --help`);
- `npx cdk SUBCOMMAND ...`: every option listed by the pinned CLI's `SUBCOMMAND --help`;
- `aws SERVICE OPERATION --param ...`: the operation and each parameter exist in botocore's model
  of the service (the AWS CLI's own), every required parameter is given;
- `export NAME=...` only for a variable the tools read; `curl` with Tollgate's API key header.
Anything else fails: a new kind of command needs its check here. The checker is shown to reject a
wrong command of each kind."""

from __future__ import annotations

import functools
import importlib
import os
import re
import shlex
import subprocess
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from ops.stripe_setup import API_KEY_ENV
from tollgate import contract

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "first-deploy.md"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", flags=re.M | re.S)
DOCUMENTED_TARGET = re.compile(r"^([a-z-]+):.*## ", flags=re.M)
# `target: ...` then a recipe line running `python -m <module> $(ARGS)` (the ops commands).
MODULE_RECIPE = re.compile(r"^([a-z-]+):[^\n]*\n(?:\t[^\n]*\n)*?\t[^\n]*-m ([\w.]+) \$\(ARGS\)", flags=re.M)
CDK_RECIPE = re.compile(r"^([a-z-]+):[^\n]*\n(?:\t[^\n]*\n)*?\t\$\(CDK\) (\w+) \w+ \$\(ARGS\)", flags=re.M)
# The AWS CLI's global options, accepted by every operation.
AWS_GLOBAL_OPTIONS = {"--region", "--profile", "--output", "--query", "--no-cli-pager", "--endpoint-url"}
# Placeholders whose option is typed: the example value the parser is given instead.
TYPED_PLACEHOLDERS = {"<StripeWebhookUrl>": "https://api.example.com/prod/stripe/webhook"}
QUIET = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def guide_commands(text: str) -> list[list[str]]:
    """Each command of the ```bash blocks as its words: continuation lines joined, comments dropped."""
    commands = []
    for block in BASH_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if words := shlex.split(line, comments=True):
                commands.append(words)
    return commands


@functools.cache
def makefile() -> str:
    return (REPO_ROOT / "Makefile").read_text()


@functools.cache
def cdk_help(subcommand: str) -> str:
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "--no-notices", subcommand, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=QUIET,
    )
    assert result.returncode == 0, f"cdk {subcommand} --help: {result.stderr}"
    return result.stdout + result.stderr


@functools.cache
def aws_service(name: str):
    return botocore.session.get_session().get_service_model(name)


def options(words: list[str]) -> list[str]:
    return [word.split("=")[0] for word in words if word.startswith("--")]


def check_cdk_options(subcommand: str, words: list[str]) -> None:
    listed = set(re.findall(r"--[a-z][a-z-]*", cdk_help(subcommand)))
    unknown = [option for option in options(words) if option not in listed]
    assert not unknown, f"cdk {subcommand} has no option {unknown}"


def check_make(words: list[str]) -> None:
    target, assignments = words[1], dict(word.split("=", 1) for word in words[2:])
    assert target in DOCUMENTED_TARGET.findall(makefile()), f"no documented make target {target!r}"
    assert set(assignments) <= {"ARGS"}, f"make {target} takes ARGS only, not {set(assignments) - {'ARGS'}}"
    dry_run = subprocess.run(["make", "-n", *words[1:]], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert dry_run.returncode == 0, f"make -n {target}: {dry_run.stderr}"
    arguments = [TYPED_PLACEHOLDERS.get(word, word) for word in shlex.split(assignments.get("ARGS", ""))]
    modules, cdk_verbs = dict(MODULE_RECIPE.findall(makefile())), dict(CDK_RECIPE.findall(makefile()))
    if target in modules:
        module = importlib.import_module(modules[target])
        parser = getattr(module, "build_parser", None) or module._parser
        try:
            parser().parse_args(arguments)
        except SystemExit as error:
            raise AssertionError(f"make {target}: {modules[target]} refuses ARGS {arguments}") from error
    elif target in cdk_verbs:
        check_cdk_options(cdk_verbs[target], arguments)
    else:
        assert not arguments, f"make {target} runs nothing that reads ARGS"


def check_aws(words: list[str]) -> None:
    service_name, operation_name, parameters = words[1], words[2], words[3:]
    service = aws_service(service_name)
    by_cli_name = {xform_name(name).replace("_", "-"): name for name in service.operation_names}
    assert operation_name in by_cli_name, f"aws {service_name} has no operation {operation_name}"
    shape = service.operation_model(by_cli_name[operation_name]).input_shape
    members = {xform_name(name).replace("_", "-"): member for name, member in (shape.members if shape else {}).items()}
    given = set()
    for option in options(parameters):
        name = option.removeprefix("--")
        if option in AWS_GLOBAL_OPTIONS:
            continue
        if name.startswith("no-") and members.get(name[3:]) is not None and members[name[3:]].type_name == "boolean":
            name = name[3:]
        assert name in members, f"aws {service_name} {operation_name} has no parameter {option}"
        given.add(name)
    required = {xform_name(name).replace("_", "-") for name in (shape.required_members if shape else [])}
    assert required <= given, f"aws {service_name} {operation_name} needs {sorted(required - given)}"


def check_command(words: list[str]) -> None:
    if words[0] == "make":
        check_make(words)
    elif words[:2] == ["npx", "cdk"]:
        check_cdk_options(words[2], words[3:])
    elif words[0] == "aws":
        check_aws(words)
    elif words[0] == "export":
        assert words[1].split("=")[0] in {API_KEY_ENV}, f"no tool reads {words[1]}"
    elif words[0] == "curl":
        assert words[1:3] == ["-H", f"{contract.API_KEY_HEADER}: <your key>"], words
    else:
        raise AssertionError(f"no check for the command {shlex.join(words)!r}: add one to this test")


def test_the_guide_walks_every_step_from_bootstrap_to_smoke():
    commands = [" ".join(words) for words in guide_commands(GUIDE.read_text())]

    for step in (
        "npx cdk bootstrap",
        "aws sesv2 create-email-identity",
        "make stripe-setup",
        "make deploy",
        "aws secretsmanager put-secret-value",
        "make smoke",
    ):
        assert any(command.startswith(step) for command in commands), step
    assert commands.index("make deploy") < commands.index("make smoke")


@pytest.mark.parametrize("words", guide_commands(GUIDE.read_text()), ids=shlex.join)
def test_every_command_of_the_guide_is_real(words):
    check_command(words)


@pytest.mark.parametrize(("line", "message"), [
    ("make smok", "no documented make target 'smok'"),
    ('make smoke ARGS="--callz 3"', "ops.smoke refuses ARGS"),
    ('make deploy ARGS="--require-aproval never"', "cdk deploy has no option ['--require-aproval']"),
    ("npx cdk bootstrap --qualifyer x", "cdk bootstrap has no option"),
    ("aws sesv2 create-email-identiti --email-identity a.com", "aws sesv2 has no operation create-email-identiti"),
    ("aws secretsmanager put-secret-value --secret-idd x", "has no parameter --secret-idd"),
    ("aws secretsmanager put-secret-value --secret-string x", "needs ['secret-id']"),
    ("export STRIPE_KEY=sk_test_x", "no tool reads STRIPE_KEY"),
    ("terraform apply", "no check for the command"),
])  # fmt: skip
def test_the_checker_refuses_a_wrong_command_of_each_kind(line, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_command(shlex.split(line))
