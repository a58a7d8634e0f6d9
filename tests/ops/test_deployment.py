"""ops/deployment.py: how every ops command finds a deployed stack (`--stack`, `--function`) on
moto in-process, as an operator's shell with AWS credentials does, through `make status`."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import boto3
import pytest

from ops.status import EXIT_FAILED, main
from testkit.commands import run_command
from tollgate import contract


@pytest.fixture
def deployed(aws, environment) -> tuple[str, str]:
    """A register function carrying the deployment's settings, and a stack whose output names it:
    (stack name, function name), fresh per test (moto lives for the module)."""
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
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context): return None\n")
    boto3.client("lambda").create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role,
        Handler=contract.HANDLER_REGISTER,
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    boto3.client("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {contract.STACK_OUTPUT_REGISTER_FUNCTION: {"Value": function}},
            }
        ),
    )
    return stack, function


def run(arguments: list[str]) -> tuple[int, str]:
    return run_command(main, arguments, environ={})


def test_a_stack_name_finds_the_deployment_through_its_register_function_output(deployed, capsys):
    stack, function = deployed
    status, output = run(["--stack", stack])

    assert status == 0, output + capsys.readouterr().err
    assert f"Using stack {stack} (function {function})." in capsys.readouterr().err
    assert "of 10,000 in this region" in output


def test_a_function_name_finds_the_same_deployment(deployed, capsys):
    _, function = deployed
    status, output = run(["--function", function])

    assert status == 0, output
    assert f"Using function {function}." in capsys.readouterr().err


def test_a_stack_without_the_output_is_refused_with_what_to_do(aws, capsys):
    boto3.client("cloudformation").create_stack(
        StackName="not-tollgate", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    )

    status, _ = run(["--stack", "not-tollgate"])

    error = capsys.readouterr().err
    assert status == EXIT_FAILED
    assert f"stack not-tollgate has no {contract.STACK_OUTPUT_REGISTER_FUNCTION} output" in error
    assert "--function NAME" in error


def test_an_unknown_stack_says_so(aws, capsys):
    status, _ = run(["--stack", "nowhere"])

    assert status == EXIT_FAILED and "cannot read stack nowhere" in capsys.readouterr().err


def test_stack_and_function_together_are_refused(aws, capsys):
    with pytest.raises(SystemExit):
        run(["--stack", "Tollgate", "--function", "Tollgate-prod-register"])
    assert "not allowed with argument" in capsys.readouterr().err
