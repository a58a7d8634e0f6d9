"""`make smoke` (ops/smoke.py): passes against `make dev` and leaves nothing behind, also when a step
fails mid-way; refuses a live-mode Stripe key; finds a deployed stack by its outputs (moto)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from unittest import mock

import boto3
import pytest
import stripe

from localdev.__main__ import PROJECT_ROOT
from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.smoke import EXIT_CANNOT_RUN, EXIT_FAILED, main
from testkit.commands import run_command
from tollgate import contract

SHORT_WAITS = ("--poll-seconds", "0.2", "--timeout", "30")
STEPS = (
    "sign up on the default plan",
    "call the API 3 times",
    "Stripe's meter shows the calls",
    "read the account API",
    "rotate the key, both work",
    "change plan and back",
    "cancel, the keys are refused",
)


def published(dev_stack: DevStackProcess) -> dict[str, str]:
    return json.loads(dev_stack.stack_file.read_text())["environment"]


def assert_nothing_left(dev_stack: DevStackProcess, email: str, output: str) -> None:
    """No row or item of the address in the accounts, keys and customer access tables, no API key, no
    live Stripe customer or subscription: everything the run's clean-up lines name is gone."""
    moto = {
        "endpoint_url": dev_stack.urls["moto"],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    dynamodb, apigateway = boto3.client("dynamodb", **moto), boto3.client("apigateway", **moto)
    environment = published(dev_stack)
    key_ids = re.findall(r"done: delete API key (\w+)", output)
    (customer_id,) = re.findall(r"done: delete Stripe customer (cus_\w+)", output)
    assert len(key_ids) >= 1, output
    for table in (
        environment[contract.ENV_ACCOUNTS_TABLE],
        environment[contract.ENV_KEYS_TABLE],
        environment[contract.ENV_CUSTOMER_ACCESS_TABLE],
    ):
        items = dynamodb.scan(TableName=table)["Items"]
        assert not [item for item in items if email in str(item) or any(key in str(item) for key in key_ids)], table
    for key_id in key_ids:
        with pytest.raises(apigateway.exceptions.NotFoundException):
            apigateway.get_api_key(apiKey=key_id)
    stripe_api = stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": dev_stack.urls["stripe"]})
    assert customer_id not in [
        customer.id for customer in stripe_api.v1.customers.list({"limit": 100}).auto_paging_iter()
    ]
    assert not [
        subscription
        for subscription in stripe_api.v1.subscriptions.list({"limit": 100}).auto_paging_iter()
        if subscription.customer == customer_id and subscription.status != "canceled"
    ]


def test_make_smoke_passes_against_make_dev_and_leaves_nothing_behind(dev_stack):
    email = f"smoke-{uuid.uuid4().hex[:8]}@example.com"
    arguments = " ".join(("--dev", "--calls", "3", "--email", email, *SHORT_WAITS))

    result = subprocess.run(
        ["make", "--no-print-directory", "smoke", f"ARGS={arguments}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "DEV_STACK_FILE": str(dev_stack.stack_file)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for step in STEPS:  # one timed row each: step, seconds, result
        assert re.match(rf"{re.escape(step)} +\d+\.\d s  \S", next(line for line in lines if line.startswith(step)))
    assert "3 units for cus_" in result.stdout
    assert re.fullmatch(r"smoke: 7/7 steps passed in \d+ s", lines[-1]), lines[-1]
    assert "FAILED" not in result.stdout
    assert_nothing_left(dev_stack, email, result.stdout)


def test_a_step_that_fails_mid_way_stops_the_run_and_everything_created_is_still_removed(dev_stack):
    """Injected after the sign-up, the calls, a session and a rotation (two keys, a retirement reminder)."""
    email = f"smoke-{uuid.uuid4().hex[:8]}@example.com"

    def before_step(step: str) -> None:
        if step == "change plan and back":
            raise RuntimeError("injected for the test")

    with mock.patch.dict(os.environ):  # the run points this process's AWS SDK at make dev's moto
        status, output = run_command(
            main,
            ["--dev", "--calls", "3", "--email", email, *SHORT_WAITS],
            environ={"DEV_STACK_FILE": str(dev_stack.stack_file)},
            before_step=before_step,
        )

    assert status == EXIT_FAILED, output
    assert re.search(r"change plan and back +\d+\.\d s  FAILED: injected for the test", output), output
    assert re.search(r"cancel, the keys are refused +-  not run", output), output
    assert re.search(r"smoke: 5/7 steps passed in \d+ s; 'change plan and back' failed$", output), output
    assert len(re.findall(r"done: delete API key", output)) == 1, output  # the account's one usage key
    assert len(re.findall(r"done: delete the keys-table item of key", output)) == 2, output  # the rotated-out key too
    assert "FAILED:" not in output.split("Clean-up:")[1]
    assert_nothing_left(dev_stack, email, output)


def test_without_a_running_make_dev_it_says_how_to_start_one(tmp_path, capsys):
    status = main(["--dev"], environ={"DEV_STACK_FILE": str(tmp_path / "none.json")}, out=io.StringIO())

    assert status == EXIT_CANNOT_RUN
    assert "start `make dev` in another terminal" in capsys.readouterr().err


def empty_zip() -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context): return None\n")
    return code.getvalue()


@pytest.fixture
def deployed_stack(aws, environment) -> Iterator[str]:
    """A stack on moto whose outputs name a register function with the deployment's settings, an API
    and a site nobody answers on; its Stripe secret's key as each test puts it."""
    suffix = uuid.uuid4().hex[:8]
    stack, function = f"Tollgate-{suffix}", f"Tollgate-{suffix}-register"
    role = boto3.client("iam").create_role(
        RoleName=f"register-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
                ],
            }
        ),
    )["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role,
        Handler=contract.HANDLER_REGISTER,
        Code={"ZipFile": empty_zip()},
        Environment={"Variables": environment},
    )
    nobody = "http://127.0.0.1:9"
    boto3.client("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    contract.STACK_OUTPUT_REGISTER_FUNCTION: {"Value": function},
                    contract.STACK_OUTPUT_API_URL: {"Value": nobody},
                    contract.STACK_OUTPUT_SIGNUP_URL: {"Value": nobody},
                },
            }
        ),
    )
    secrets = boto3.client("secretsmanager")
    before = secrets.get_secret_value(SecretId=aws.stripe_secret_arn)["SecretString"]
    yield stack
    secrets.put_secret_value(SecretId=aws.stripe_secret_arn, SecretString=before)


def with_stripe_key(aws, key: str) -> None:
    secrets = boto3.client("secretsmanager")
    values = json.loads(secrets.get_secret_value(SecretId=aws.stripe_secret_arn)["SecretString"])
    secrets.put_secret_value(
        SecretId=aws.stripe_secret_arn,
        SecretString=json.dumps({**values, contract.SECRET_FIELD_STRIPE_SECRET_KEY: key}),
    )


@pytest.mark.parametrize("live_key", ["sk_live_123", "rk_live_123"])
def test_a_live_mode_stripe_key_is_refused_before_anything_is_created(aws, deployed_stack, live_key, capsys):
    with_stripe_key(aws, live_key)
    status, output = run_command(main, ["--stack", deployed_stack], environ={})

    assert status == EXIT_CANNOT_RUN and output == ""
    assert "live-mode key" in capsys.readouterr().err


def test_with_live_or_a_test_key_it_runs_on_the_stack_its_outputs_name(aws, deployed_stack):
    """The API and site of the outputs answer nobody: the sign-up fails, and nothing was created."""
    with_stripe_key(aws, "sk_live_123")
    status, output = run_command(
        main, ["--stack", deployed_stack, "--live", "--email", "nobody@example.com"], environ={}
    )

    assert status == EXIT_FAILED, output
    assert f"Smoke test of stack {deployed_stack}" in output and "API http://127.0.0.1:9" in output
    assert re.search(r"sign up on the default plan +\d+\.\d s  FAILED: .*(refused|Errno)", output), output
    assert output.rstrip().endswith("'sign up on the default plan' failed")
