"""Issue 3, point 5 (and issue 6's functions): runtime, asset, logs, caps, environment, IAM."""

import json
import re
import subprocess
import sys

import pytest
from aws_cdk import App, Stack
from infra_synth import resolve_join

from infra import lambda_asset
from infra.functions import ARCHITECTURE, LAMBDA_SRC, RUNTIME, PipLocalBundling, shared_code_asset
from tollgate import contract

BUSINESS_HANDLERS = (contract.HANDLER_REGISTER, contract.HANDLER_CHECKOUT, contract.HANDLER_STRIPE_WEBHOOK)
# Every function that touches API keys.
KEY_HANDLERS = (
    *BUSINESS_HANDLERS,
    contract.HANDLER_RECONCILER,
    contract.HANDLER_HOUSEKEEPING,
    contract.HANDLER_ACCOUNT,
    contract.HANDLER_KEY_RETIREMENT,
)


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


def test_every_function_runs_python_312_arm64_from_one_code_asset(synth):
    functions = _functions(synth)

    assert set(functions) == {
        *KEY_HANDLERS,
        contract.HANDLER_SAMPLE_BACKEND,
        contract.HANDLER_USAGE_REPORTER,
        contract.HANDLER_AUTHORIZER,
    }
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
    plans = json.loads(resolve_join(environment[contract.ENV_PLANS]))
    usage_plans = synth.plan_usage_plans()
    assert [(plan["id"], plan["price_id"], plan["requires_payment_method"]) for plan in plans] == [
        (plan.id, plan.stripe_price_id, plan.require_payment_method) for plan in synth.settings.plans
    ]
    assert {plan["usage_plan_id"].strip("<>") for plan in plans} == set(usage_plans)
    assert "DomainName" in json.dumps(environment[contract.ENV_SIGNUP_URL])  # Checkout's way back to the site
    assert not any(name in json.dumps(environment) for name in ("sk_", "whsec_", contract.SECRET_PLACEHOLDER))
    for unset in (contract.ENV_STRIPE_API_BASE, contract.ENV_MOESIF_API_BASE, "AWS_ENDPOINT_URL"):
        assert unset not in environment


def test_register_may_manage_keys_and_only_this_plans_membership(synth):
    grants = _grants(synth, contract.HANDLER_REGISTER)
    plan_ids = list(synth.plan_usage_plans())
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert sorted(grants["apigateway:POST"]) == sorted(
        [f"{base}/apikeys"] + [f"{base}/usageplans/<{plan_id}>/keys" for plan_id in plan_ids]
    )
    assert sorted(grants["apigateway:DELETE"]) == sorted(
        [f"{base}/apikeys/*"] + [f"{base}/usageplans/<{plan_id}>/keys/*" for plan_id in plan_ids]
    )
    assert grants["apigateway:GET"] == [f"{base}/apikeys/*"]  # never the collection: listing returns every key's value
    assert grants["apigateway:PUT"] == [
        f"{base}/tags/arn%3A<AWS::Partition>%3Aapigateway%3A<AWS::Region>%3A%3A%2Fapikeys%2F*"
    ]
    assert "apigateway:PATCH" not in grants


def test_checkout_may_only_read_keys_the_secret_and_accounts(synth):
    grants = _grants(synth, contract.HANDLER_CHECKOUT)
    apigateway_actions = {action for action in grants if action.startswith("apigateway:")}

    assert apigateway_actions == {"apigateway:GET"}
    assert not any(
        action.startswith("dynamodb:") and ("Put" in action or "Delete" in action or "Update" in action)
        for action in grants
    )


def test_webhook_may_enable_disable_keys_and_move_them_between_this_deployments_plans_only(synth):
    grants = _grants(synth, contract.HANDLER_STRIPE_WEBHOOK)
    plan_ids = list(synth.plan_usage_plans())
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert grants["apigateway:PATCH"] == [f"{base}/apikeys/*"]
    assert grants["apigateway:POST"] == [f"{base}/usageplans/<{plan_id}>/keys" for plan_id in plan_ids]
    assert grants["apigateway:DELETE"] == [f"{base}/usageplans/<{plan_id}>/keys/*" for plan_id in plan_ids]


@pytest.mark.parametrize("handler", KEY_HANDLERS)
def test_every_key_grant_is_conditioned_on_this_deployments_owner_tag(synth, handler):
    """Issue 11, point 4: the functions cannot read, disable or delete other APIs' keys."""

    owner = f"Tollgate/{synth.settings.stage_name}"
    resource_tag = {"StringEquals": {f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}": owner}}
    request_tag = {
        "StringEquals": {f"aws:RequestTag/{contract.API_KEY_OWNER_TAG}": owner},
        "ForAllValues:StringEquals": {"aws:TagKeys": [contract.API_KEY_OWNER_TAG]},
    }
    key_statements = 0
    for statement in _statements(synth, handler):
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in (resolve_join(r) for r in resources):
            if resource.endswith("::/apikeys/*"):
                assert statement["Condition"] == resource_tag, statement
                key_statements += 1
            elif resource.endswith("::/apikeys") and statement["Action"] == "apigateway:GET":
                # Listing the region's keys to count them (issue 14): IAM has no condition on a
                # listing's items; only the housekeeping may, and it never asks for values.
                assert handler == contract.HANDLER_HOUSEKEEPING and "Condition" not in statement, statement
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

    assert set(grants) <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert grants["secretsmanager:GetSecretValue"] == [f"<{backend_secret}>"]  # to check the gateway's header


@pytest.mark.parametrize("handler", [*KEY_HANDLERS, contract.HANDLER_SAMPLE_BACKEND])
def test_no_statement_grants_apigateway_dynamodb_or_secrets_on_every_resource(synth, handler):
    secrets = {f"<{secret_id}>" for secret_id in synth.resources("AWS::SecretsManager::Secret")}
    tables = set(synth.resources("AWS::DynamoDB::Table"))
    for action, resources in _grants(synth, handler).items():
        service = action.split(":")[0]
        assert "*" not in resources or service == "xray", (handler, action)  # X-Ray has no resource-level permissions
        if service == "secretsmanager":
            assert set(resources) <= secrets
        if service == "dynamodb":
            assert all(r.split(".")[0].lstrip("<") in tables for r in resources), resources


def test_the_runtime_and_architecture_are_the_ones_the_asset_is_built_for():
    assert RUNTIME.name == f"python{lambda_asset.PYTHON_VERSION}"
    assert ARCHITECTURE.name == lambda_asset.ARCHITECTURE


def test_pip_bundling_installs_the_lock_for_the_lambda_platform_then_compiles_for_its_python(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        subprocess, "run", lambda command, **_: calls.append(command) or subprocess.CompletedProcess(command, 0, "", "")
    )
    monkeypatch.setattr(lambda_asset, "runtime_python", lambda: "/opt/python3.12")
    for relative in lambda_asset.LEFT_OUT_PATHS:  # what pip would have installed
        (tmp_path / relative).mkdir(parents=True)

    assert PipLocalBundling(LAMBDA_SRC).try_bundle(str(tmp_path), None) is True

    install, compile_ = calls
    assert install[:4] == [sys.executable, "-m", "pip", "install"]
    assert _option(install, "--requirement") == str(LAMBDA_SRC / "requirements.txt")
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile"} <= set(install)
    assert (_option(install, "--platform"), _option(install, "--python-version")) == ("manylinux2014_aarch64", "3.12")
    assert compile_[:3] == ["/opt/python3.12", "-m", "compileall"] and compile_[-1] == str(tmp_path)
    assert _option(compile_, "--invalidation-mode") == "unchecked-hash"
    assert (tmp_path / "tollgate" / "contract" / "routes.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    assert not any((tmp_path / relative).exists() for relative in lambda_asset.LEFT_OUT_PATHS)


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_pip_bundling_fails_loudly_instead_of_falling_back_to_docker(tmp_path):
    source = tmp_path / "src"
    (source / "tollgate").mkdir(parents=True)
    (source / "requirements.txt").write_text("this is not a requirement ===\n")

    with pytest.raises(lambda_asset.BundlingError, match="Installing the locked Lambda dependencies"):
        PipLocalBundling(source).try_bundle(str(tmp_path / "out"), None)


def test_the_asset_hash_follows_the_build_recipe_as_well_as_the_sources(monkeypatch):
    """Otherwise a change to what is bundled would leave CDK deploying the previous bundle."""

    def asset_key() -> str:
        stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "AssetHash")
        return shared_code_asset().bind(stack).s3_location.object_key

    before = asset_key()
    monkeypatch.setattr(lambda_asset, "recipe_fingerprint", lambda: "another recipe")

    assert asset_key() == asset_key() != before


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"PATH": "/nonexistent", "PYENV_ROOT": "/nonexistent"}, "No Python 3.12 found"),
        ({lambda_asset.PYTHON_OVERRIDE: sys.executable}, f"={sys.executable} is not a working Python 3.12"),
    ],
)
def test_without_a_python_of_the_runtimes_version_bundling_says_what_to_install(monkeypatch, environment, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(lambda_asset.BundlingError, match=re.escape(expected)) as raised:
        lambda_asset.runtime_python()
    assert "\n" not in str(raised.value) and lambda_asset.PYTHON_OVERRIDE in str(raised.value)


def test_without_python312_on_path_pyenvs_newest_312_is_taken(tmp_path, monkeypatch):
    """A pyenv shim on PATH for a version that is not selected fails, so pyenv's folders are read."""
    for release in ("3.12.9", "3.12.10", "3.13.0"):
        interpreter = tmp_path / "versions" / release / "bin" / f"python{release.rsplit('.', 1)[0]}"
        interpreter.parent.mkdir(parents=True)
        interpreter.write_text(f"#!/bin/sh\necho CPython {release.rsplit('.', 1)[0]}\n")
        interpreter.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))

    assert lambda_asset.runtime_python() == str(tmp_path / "versions" / "3.12.10" / "bin" / "python3.12")


def test_a_python_of_the_runtimes_version_is_found_on_path_or_in_pyenv_or_the_override():
    found = lambda_asset.runtime_python()
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    version = subprocess.run([found, "-c", probe], capture_output=True, text=True, check=True)

    assert version.stdout.strip() == lambda_asset.PYTHON_VERSION


def test_every_tollgate_function_and_the_stage_are_traced_by_default(synth, synth_custom):
    """Issue 14: X-Ray active tracing, a setting that is on by default (enable_tracing)."""
    for handler, function in _functions(synth).items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, handler
        assert "xray:PutTraceSegments" in _grants(synth, handler)
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["TracingEnabled"] is True
    untraced = synth_custom  # enable_tracing=false
    assert not any("TracingConfig" in f["Properties"] for f in _functions(untraced).values())
    (custom_stage,) = untraced.resources("AWS::ApiGateway::Stage").values()
    assert not custom_stage["Properties"].get("TracingEnabled")
