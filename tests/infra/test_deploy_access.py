"""The deploy-access stack (infra/deploy_access.py, infra/smoke_access.py) through synth with cdk-nag
on: GitHub's token is trusted for one repository's environment (or branch) and STS's audience only;
the deploy role may assume the three CDK bootstrap roles `cdk deploy` uses, in its own account and
region, nothing else; the smoke role may do what `make smoke` does on this deployment's resources
only, which the Tollgate stack's template is checked to match (its tables' logical ids, its register
function's name, the owner tag on its Stripe secret); cdk-nag has no open finding; a wrong option
names itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from infra_synth import resolve_join

from infra.deploy_access import QUALIFIER_CONTEXT, STACK_NAME, DeployAccess, DeployAccessError, build
from infra.smoke_access import ACCESS_TABLE_ID, ACCOUNTS_TABLE_ID, KEYS_TABLE_ID
from tollgate import contract

EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def synthesize(outdir: Path, access: DeployAccess, **context: Any) -> tuple[dict, dict]:
    """(the template, the cdk-nag plugin's report); the synth raises on an open cdk-nag error."""
    app = cdk.App(outdir=str(outdir), context=context)
    build(app, access)
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    (nag,) = [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == "AwsSolutions"]
    return json.loads((outdir / f"{STACK_NAME}.template.json").read_text()), nag


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> tuple[dict, dict]:
    return synthesize(tmp_path_factory.mktemp("deploy-access"), DeployAccess(repository="acme/weather-api"))


def of_type(template: dict, resource_type: str) -> list[dict]:
    return [resource for resource in template["Resources"].values() if resource["Type"] == resource_type]


def roles(template: dict) -> dict[str, dict]:
    """ "DeployRole" / "SmokeRole" -> its resource."""
    return {
        role_id: resource
        for role_id in ("DeployRole", "SmokeRole")
        for logical_id, resource in template["Resources"].items()
        if logical_id.startswith(role_id) and resource["Type"] == "AWS::IAM::Role"
    }


def trust(template: dict) -> dict:
    """The one trust statement, the same for both roles."""
    statements = [role["Properties"]["AssumeRolePolicyDocument"]["Statement"] for role in roles(template).values()]
    assert len(statements) == 2 and statements[0] == statements[1]
    (statement,) = statements[0]
    return statement


def grants(template: dict, role: str) -> dict[str, list[str]]:
    """action -> the resources `role` ("DeployRole" / "SmokeRole") is allowed it on, as readable strings
    (a condition appended as " if <key>=<value>")."""
    role_ref = {"Ref": next(key for key, value in template["Resources"].items() if value is roles(template)[role])}
    granted: dict[str, list[str]] = {}
    for policy in of_type(template, "AWS::IAM::Policy"):
        if policy["Properties"]["Roles"] != [role_ref]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            (condition,) = statement.get("Condition", {"": {"": None}}).values()
            when = "".join(f" if {key}={value}" for key, value in condition.items() if value)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                granted.setdefault(action, []).extend(resolve_join(resource) + when for resource in resources)
    return granted


def test_github_tokens_are_trusted_for_one_repository_environment_and_sts_only(default):
    template, _ = default
    (provider,) = of_type(template, "AWS::IAM::OIDCProvider")
    provider_id = next(key for key, value in template["Resources"].items() if value is provider)

    assert provider["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }  # no thumbprint: IAM ignores it
    assert trust(template) == {
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": {"Ref": provider_id}},
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub":
                                           "repo:acme/weather-api:environment:production"}}}  # fmt: skip
    assert set(roles(template)) == {"DeployRole", "SmokeRole"}
    for role in roles(template).values():
        assert role["Properties"]["MaxSessionDuration"] == 3600
        assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]


def test_the_deploy_role_may_only_assume_the_bootstrap_roles_cdk_deploy_uses(default):
    template, _ = default
    role_arn = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-hnb659fds-{}-role-<AWS::AccountId>-<AWS::Region>"

    assert grants(template, "DeployRole") == {
        "sts:AssumeRole": [role_arn.format(kind) for kind in ("deploy", "file-publishing", "lookup")]
    }


ARN = "arn:<AWS::Partition>:{}:<AWS::Region>:<AWS::AccountId>:{}"
OWNED = " if aws:ResourceTag/tollgate:deployment=Tollgate/prod"  # cdk.json's stage_name


def test_the_smoke_role_may_do_what_make_smoke_does_on_this_deployments_resources_only(default):
    template, _ = default
    accounts = ARN.format("dynamodb", f"table/Tollgate-{ACCOUNTS_TABLE_ID}-*")
    access = ARN.format("dynamodb", f"table/Tollgate-{ACCESS_TABLE_ID}-*")
    keys = ARN.format("dynamodb", f"table/Tollgate-{KEYS_TABLE_ID}-*")

    assert grants(template, "SmokeRole") == {
        "cloudformation:DescribeStacks": [ARN.format("cloudformation", "stack/Tollgate/*")],
        "lambda:GetFunctionConfiguration": [ARN.format("lambda", "function:Tollgate-prod-register")],
        "secretsmanager:GetSecretValue": [ARN.format("secretsmanager", "secret:*") + OWNED],
        "dynamodb:GetItem": [accounts],
        "dynamodb:DeleteItem": [accounts, keys, access],
        "dynamodb:PutItem": [access],
        "dynamodb:Scan": [access],
        "dynamodb:Query": [access + "/index/byOwner"],
        "apigateway:DELETE": ["arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*" + OWNED],
    }


def test_the_smoke_roles_names_and_tag_are_those_of_the_tollgate_stacks_template(synth):
    """The smoke role names the Tollgate stack's resources by what the deployed stack will call them:
    the tables by logical id, the register function by name, the Stripe secret by the owner tag on it."""
    tables = synth.resources("AWS::DynamoDB::Table")
    functions = synth.resources("AWS::Lambda::Function")
    register = next(
        function
        for function in functions.values()
        if function["Properties"].get("FunctionName") == "Tollgate-prod-register"
    )
    stripe_secret_id, _ = synth.secret_ids()

    environment = register["Properties"]["Environment"]["Variables"]
    assert environment[contract.ENV_ACCOUNTS_TABLE] == {"Ref": ACCOUNTS_TABLE_ID}
    assert environment[contract.ENV_CUSTOMER_ACCESS_TABLE] == {"Ref": ACCESS_TABLE_ID}
    assert environment[contract.ENV_KEYS_TABLE] == {"Ref": KEYS_TABLE_ID}
    assert {ACCOUNTS_TABLE_ID, KEYS_TABLE_ID, ACCESS_TABLE_ID} <= set(tables)
    secret_tags = synth.resources("AWS::SecretsManager::Secret")[stripe_secret_id]["Properties"]["Tags"]
    assert {"Key": contract.API_KEY_OWNER_TAG, "Value": "Tollgate/prod"} in secret_tags
    assert environment[contract.ENV_KEY_OWNER] == "Tollgate/prod"


def test_cdk_nag_has_no_open_finding_and_each_acknowledgment_says_why(default):
    _, nag = default

    assert nag["violations"] == []
    acknowledged = {violation["ruleName"] for violation in nag["suppressedViolations"]}
    assert {rule.removeprefix("AwsSolutions-IAM5[Resource::").removesuffix("]") for rule in acknowledged} == {
        ARN.format("cloudformation", "stack/Tollgate/*"),
        ARN.format("secretsmanager", "secret:*"),
        ARN.format("dynamodb", f"table/Tollgate-{ACCOUNTS_TABLE_ID}-*"),
        ARN.format("dynamodb", f"table/Tollgate-{KEYS_TABLE_ID}-*"),
        ARN.format("dynamodb", f"table/Tollgate-{ACCESS_TABLE_ID}-*"),
        ARN.format("dynamodb", f"table/Tollgate-{ACCESS_TABLE_ID}-*/index/byOwner"),
        "arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*",
    }
    assert all("owner tag" in violation["reason"] for violation in nag["suppressedViolations"])


def test_the_outputs_are_what_make_deploy_role_prints(default):
    template, _ = default

    assert set(template["Outputs"]) == {"DeployRoleArn", "SmokeRoleArn", "DeployRegion"}
    assert template["Outputs"]["DeployRegion"]["Value"] == {"Ref": "AWS::Region"}


def test_a_branch_an_existing_provider_another_stack_and_a_custom_qualifier(tmp_path):
    access = DeployAccess(
        repository="acme@1234/weather-api@5678",
        branch="release/v2",
        oidc_provider_arn=EXISTING_PROVIDER,
        tollgate_stack="TollgateStaging",
        stage="beta",
    )

    template, nag = synthesize(tmp_path, access, **{QUALIFIER_CONTEXT: "acme1234"})

    assert of_type(template, "AWS::IAM::OIDCProvider") == []  # the account's own is trusted
    statement = trust(template)
    assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
    assert (
        statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        == "repo:acme@1234/weather-api@5678:ref:refs/heads/release/v2"
    )
    assert all("role/cdk-acme1234-" in arn for arn in grants(template, "DeployRole")["sts:AssumeRole"])
    smoke = grants(template, "SmokeRole")
    assert smoke["cloudformation:DescribeStacks"][0].endswith(":stack/TollgateStaging/*")
    assert smoke["lambda:GetFunctionConfiguration"][0].endswith(":function:TollgateStaging-beta-register")
    assert smoke["dynamodb:GetItem"][0].endswith(f":table/TollgateStaging-{ACCOUNTS_TABLE_ID}-*")
    assert smoke["apigateway:DELETE"][0].endswith(
        "/apikeys/* if aws:ResourceTag/tollgate:deployment=TollgateStaging/beta"
    )
    assert nag["violations"] == []


@pytest.mark.parametrize(("options", "message"), [
    ({}, "--repo must be the GitHub repository as OWNER/NAME"),
    ({"repository": "https://github.com/acme/weather"}, "--repo must be the GitHub repository as OWNER/NAME"),
    ({"repository": "acme/weather/extra"}, "got 'acme/weather/extra'"),
    ({"repository": "acme/w", "environment": "prod", "branch": "main"}, "give --environment or --branch, not both"),
    ({"repository": "acme/w", "environment": "prod*"}, "--environment must be a GitHub environment name"),
    ({"repository": "acme/w", "branch": "refs/heads/main"}, "--branch must be a branch name without refs/heads/"),
    ({"repository": "acme/w", "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"},
     "--oidc-provider-arn must be the ARN of the account's GitHub provider"),
    ({"repository": "acme/w", "tollgate_stack": "my stack"}, "--tollgate-stack must be a CloudFormation stack name"),
    ({"repository": "acme/w", "stage": "prod/2"}, "--stage must be the deployment's stage_name"),
])  # fmt: skip
def test_a_wrong_option_is_refused_naming_it(options, message):
    with pytest.raises(DeployAccessError, match=message.replace("*", r"\*")):
        DeployAccess(**options)


def test_the_options_travel_to_the_app_as_context_and_back():
    access = DeployAccess(repository="acme/w", branch="main", tollgate_stack="T2", stage="beta")

    assert access.context() == {
        "deploy_access_repository": "acme/w",
        "deploy_access_branch": "main",
        "deploy_access_tollgate_stack": "T2",
        "deploy_access_stage": "beta",
    }
    assert DeployAccess.from_context(access.context().get) == access
