"""The deploy role's stack (infra/deploy_access.py) through synth with cdk-nag on: GitHub's token is
trusted for one repository's environment (or branch) and STS's audience only; the role may assume the
three CDK bootstrap roles `cdk deploy` uses, in its own account and region, and read the Tollgate
stack's outputs, nothing else; cdk-nag has no open finding; a wrong option names itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from infra_synth import resolve_join

from infra.deploy_access import QUALIFIER_CONTEXT, STACK_NAME, DeployAccess, DeployAccessError, build

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


def trust(template: dict) -> dict:
    (role,) = of_type(template, "AWS::IAM::Role")
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


def grants(template: dict) -> dict[str, list[str]]:
    """action -> the resources it is allowed on, as readable strings."""
    granted: dict[str, list[str]] = {}
    for policy in of_type(template, "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            granted.setdefault(statement["Action"], []).extend(resolve_join(resource) for resource in resources)
    return granted


def test_github_tokens_are_trusted_for_one_repository_environment_and_sts_only(default):
    template, _ = default
    (provider,) = of_type(template, "AWS::IAM::OIDCProvider")
    provider_id = next(key for key, value in template["Resources"].items() if value is provider)

    assert provider["Properties"] == {"Url": "https://token.actions.githubusercontent.com",
                                      "ClientIdList": ["sts.amazonaws.com"]}  # no thumbprint: IAM ignores it
    assert trust(template) == {
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": {"Ref": provider_id}},
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub":
                                           "repo:acme/weather-api:environment:production"}}}  # fmt: skip
    (role,) = of_type(template, "AWS::IAM::Role")
    assert role["Properties"]["MaxSessionDuration"] == 3600
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]


def test_the_role_may_only_assume_the_bootstrap_roles_cdk_deploy_uses_and_read_the_tollgate_stack(default):
    template, _ = default
    role_arn = ("arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-hnb659fds-{}-role-<AWS::AccountId>-"
                "<AWS::Region>")

    assert grants(template) == {
        "sts:AssumeRole": [role_arn.format(kind) for kind in ("deploy", "file-publishing", "lookup")],
        "cloudformation:DescribeStacks": [
            "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/Tollgate/*"],
    }


def test_cdk_nag_has_no_open_finding_and_the_one_acknowledgment_says_why(default):
    _, nag = default

    assert nag["violations"] == []
    (acknowledged,) = nag["suppressedViolations"]
    assert acknowledged["ruleName"].startswith("AwsSolutions-IAM5[Resource::") and ":stack/Tollgate/*]" in \
        acknowledged["ruleName"]
    assert "id CloudFormation gives it" in acknowledged["reason"]


def test_the_outputs_are_what_make_deploy_role_prints(default):
    template, _ = default

    assert set(template["Outputs"]) == {"DeployRoleArn", "DeployRegion"}
    assert template["Outputs"]["DeployRegion"]["Value"] == {"Ref": "AWS::Region"}


def test_a_branch_an_existing_provider_another_stack_and_a_custom_qualifier(tmp_path):
    access = DeployAccess(repository="acme@1234/weather-api@5678", branch="release/v2",
                          oidc_provider_arn=EXISTING_PROVIDER, tollgate_stack="TollgateStaging")

    template, nag = synthesize(tmp_path, access, **{QUALIFIER_CONTEXT: "acme1234"})

    assert of_type(template, "AWS::IAM::OIDCProvider") == []  # the account's own is trusted
    statement = trust(template)
    assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        "repo:acme@1234/weather-api@5678:ref:refs/heads/release/v2"
    granted = grants(template)
    assert all("role/cdk-acme1234-" in arn for arn in granted["sts:AssumeRole"])
    assert granted["cloudformation:DescribeStacks"][0].endswith(":stack/TollgateStaging/*")
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
])  # fmt: skip
def test_a_wrong_option_is_refused_naming_it(options, message):
    with pytest.raises(DeployAccessError, match=message.replace("*", r"\*")):
        DeployAccess(**options)


def test_the_options_travel_to_the_app_as_context_and_back():
    access = DeployAccess(repository="acme/w", branch="main", tollgate_stack="T2")

    assert access.context() == {"deploy_access_repository": "acme/w", "deploy_access_branch": "main",
                                "deploy_access_tollgate_stack": "T2"}
    assert DeployAccess.from_context(access.context().get) == access
