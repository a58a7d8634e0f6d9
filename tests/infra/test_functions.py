"""Issue 3, point 5 (and issue 6's functions): runtime, asset, logs, caps, environment, IAM."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from infra.functions import LAMBDA_SRC, PipLocalBundling
from tollgate import contract

BUSINESS_HANDLERS = (contract.HANDLER_REGISTER, contract.HANDLER_CHECKOUT, contract.HANDLER_STRIPE_WEBHOOK)
KEY_HANDLERS = (*BUSINESS_HANDLERS, contract.HANDLER_RECONCILER)  # every function that touches API keys


def _functions(synth) -> dict[str, dict]:
    """Tollgate's own functions by handler (the BucketDeployment provider is CDK's)."""
    return {
        f["Properties"]["Handler"]: f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("tollgate.")
    }


def _role_id(synth, handler: str) -> str:
    return _functions(synth)[handler]["Properties"]["Role"]["Fn::GetAtt"][0]


def _statements(synth, handler: str) -> list[dict]:
    return synth.role_statements(_role_id(synth, handler))


def _grants(synth, handler: str) -> dict[str, list[str]]:
    """action -> resources, resources rendered as readable strings."""
    return synth.role_grants(_role_id(synth, handler))


def test_five_functions_on_python_312_arm64_share_one_code_asset(synth):
    functions = _functions(synth)

    assert set(functions) == {*KEY_HANDLERS, contract.HANDLER_SAMPLE_BACKEND}
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.12"}
    assert {tuple(f["Properties"]["Architectures"]) for f in functions.values()} == {("arm64",)}
    assert len({json.dumps(f["Properties"]["Code"]) for f in functions.values()}) == 1


def test_skipped_bundling_still_synthesizes_lambda_src_as_the_asset(synth):
    (code,) = {json.dumps(f["Properties"]["Code"]) for f in _functions(synth).values()}
    asset_hash = json.loads(code)["S3Key"].removesuffix(".zip")
    manifest = json.loads((synth.outdir / "Tollgate.assets.json").read_text())

    assert manifest["files"][asset_hash]["source"] == {"path": str(LAMBDA_SRC), "packaging": "zip"}


def test_every_function_logs_to_its_own_group_with_a_retention(synth):
    groups = synth.resources("AWS::Logs::LogGroup")
    for function in _functions(synth).values():
        group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] == 30


def test_public_functions_fit_the_api_gateway_timeout(synth):
    functions = _functions(synth)
    for handler in BUSINESS_HANDLERS:
        assert functions[handler]["Properties"]["Timeout"] < 29


def test_reserved_concurrency_is_only_set_when_configured(synth, synth_custom):
    """0 (the default) reserves nothing, so a fresh account with a Lambda quota of 10 can deploy."""
    for function in _functions(synth).values():
        assert "ReservedConcurrentExecutions" not in function["Properties"]
    custom = _functions(synth_custom)
    for handler in BUSINESS_HANDLERS:
        assert custom[handler]["Properties"]["ReservedConcurrentExecutions"] == 5


def test_environment_carries_the_secret_arns_and_names_never_a_secret_value(synth):
    stripe_secret_id, moesif_secret_id = synth.secret_ids()
    environment = _functions(synth)[contract.HANDLER_REGISTER]["Properties"]["Environment"]["Variables"]

    assert environment[contract.ENV_STRIPE_SECRET_ARN] == {"Ref": stripe_secret_id}
    assert environment[contract.ENV_MOESIF_SECRET_ARN] == {"Ref": moesif_secret_id}
    assert environment[contract.ENV_STRIPE_PRICE_ID] == synth.settings.stripe_price_id
    assert environment[contract.ENV_REQUIRE_PAYMENT_METHOD] == "false"
    assert "DomainName" in json.dumps(environment[contract.ENV_ALLOWED_ORIGIN])
    assert not any(name in json.dumps(environment) for name in ("sk_", "whsec_", contract.SECRET_PLACEHOLDER))
    for unset in (contract.ENV_STRIPE_API_BASE, contract.ENV_MOESIF_API_BASE, "AWS_ENDPOINT_URL"):
        assert unset not in environment


def test_register_may_manage_keys_and_only_this_plans_membership(synth):
    grants = _grants(synth, contract.HANDLER_REGISTER)
    (plan_id,) = synth.resources("AWS::ApiGateway::UsagePlan")
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert sorted(grants["apigateway:POST"]) == sorted([f"{base}/apikeys", f"{base}/usageplans/<{plan_id}>/keys"])
    assert sorted(grants["apigateway:DELETE"]) == sorted([f"{base}/apikeys/*", f"{base}/usageplans/<{plan_id}>/keys/*"])
    assert grants["apigateway:GET"] == [f"{base}/apikeys/*"]  # never the collection: listing returns every key's value
    assert grants["apigateway:PUT"] == [
        f"{base}/tags/arn%3A<AWS::Partition>%3Aapigateway%3A<AWS::Region>%3A%3A%2Fapikeys%2F*"]
    assert "apigateway:PATCH" not in grants


def test_checkout_may_only_read_keys_the_secret_and_accounts(synth):
    grants = _grants(synth, contract.HANDLER_CHECKOUT)
    apigateway_actions = {action for action in grants if action.startswith("apigateway:")}

    assert apigateway_actions == {"apigateway:GET"}
    assert not any(action.startswith("dynamodb:") and ("Put" in action or "Delete" in action or "Update" in action) for action in grants)


def test_webhook_may_enable_disable_keys_and_attach_to_this_plan_only(synth):
    grants = _grants(synth, contract.HANDLER_STRIPE_WEBHOOK)
    (plan_id,) = synth.resources("AWS::ApiGateway::UsagePlan")
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert grants["apigateway:PATCH"] == [f"{base}/apikeys/*"]
    assert grants["apigateway:POST"] == [f"{base}/usageplans/<{plan_id}>/keys"]
    assert "apigateway:DELETE" not in grants


@pytest.mark.parametrize("handler", KEY_HANDLERS)
def test_every_key_grant_is_conditioned_on_this_deployments_owner_tag(synth, handler):
    """Issue 11, point 4: the functions cannot read, disable or delete other APIs' keys."""
    from infra_synth import resolve_join

    owner = f"Tollgate/{synth.settings.stage_name}"
    resource_tag = {"StringEquals": {f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}": owner}}
    request_tag = {"StringEquals": {f"aws:RequestTag/{contract.API_KEY_OWNER_TAG}": owner},
                   "ForAllValues:StringEquals": {"aws:TagKeys": [contract.API_KEY_OWNER_TAG]}}
    key_statements = 0
    for statement in _statements(synth, handler):
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in (resolve_join(r) for r in resources):
            if resource.endswith("::/apikeys/*"):
                assert statement["Condition"] == resource_tag, statement
                key_statements += 1
            elif resource.endswith("::/apikeys") or "/tags/" in resource:
                assert statement["Condition"] == request_tag, statement
            elif "apigateway" in resource:
                assert "/usageplans/" in resource, resource  # this plan's membership: plan keys are not taggable
    assert key_statements


def test_the_functions_are_told_the_owner_tag_they_must_put_on_keys(synth):
    for handler in KEY_HANDLERS:
        environment = _functions(synth)[handler]["Properties"]["Environment"]["Variables"]
        assert environment[contract.ENV_KEY_OWNER] == f"Tollgate/{synth.settings.stage_name}"


def test_sample_backend_gets_nothing_but_its_logs_and_the_backend_secret(synth):
    grants = _grants(synth, contract.HANDLER_SAMPLE_BACKEND)
    (backend_secret,) = [s for s in synth.resources("AWS::SecretsManager::Secret") if s.startswith("BackendSecret")]

    assert set(grants) <= {"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
                           "secretsmanager:DescribeSecret"}
    assert grants["secretsmanager:GetSecretValue"] == [f"<{backend_secret}>"]  # to check the gateway's header


@pytest.mark.parametrize("handler", [*KEY_HANDLERS, contract.HANDLER_SAMPLE_BACKEND])
def test_no_statement_grants_apigateway_dynamodb_or_secrets_on_every_resource(synth, handler):
    secrets = {f"<{secret_id}>" for secret_id in synth.resources("AWS::SecretsManager::Secret")}
    tables = set(synth.resources("AWS::DynamoDB::Table"))
    for action, resources in _grants(synth, handler).items():
        service = action.split(":")[0]
        assert "*" not in resources, (handler, action)
        if service == "secretsmanager":
            assert set(resources) <= secrets
        if service == "dynamodb":
            assert all(r.split(".")[0].lstrip("<") in tables for r in resources), resources


def test_the_bundled_requirements_leave_out_boto3_which_the_runtime_provides():
    lines = (LAMBDA_SRC / "requirements.txt").read_text().splitlines()
    names = {re.split(r"[=<>~!\[; ]", line.strip())[0].lower() for line in lines if line.strip() and not line.startswith("#")}

    assert "stripe" in names and not names & {"boto3", "botocore", "s3transfer"}


def test_pip_bundling_installs_the_requirements_for_the_lambda_platform_then_copies_the_package(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: calls.append(command) or subprocess.CompletedProcess(command, 0, "", ""))

    assert PipLocalBundling(LAMBDA_SRC, lambda_.Architecture.ARM_64).try_bundle(str(tmp_path), None) is True

    (command,) = calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert ["--platform", "manylinux2014_aarch64"] == command[command.index("--platform") : command.index("--platform") + 2]
    assert "--only-binary=:all:" in command and ["--python-version", "3.12"] == command[command.index("--python-version") :][:2]
    assert (tmp_path / "tollgate" / "contract.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))


def test_pip_bundling_fails_loudly_instead_of_falling_back_to_docker(tmp_path):
    source = tmp_path / "src"
    (source / "tollgate").mkdir(parents=True)
    (source / "requirements.txt").write_text("this is not a requirement ===\n")

    with pytest.raises(RuntimeError, match="Bundling the Lambda dependencies failed"):
        PipLocalBundling(Path(source), lambda_.Architecture.ARM_64).try_bundle(str(tmp_path / "out"), None)
