"""`make deploy-role` through its entry point: `--synth` runs the CDK CLI on infra/deploy_access.py's app
with the options as context (the path a deploy takes, short of AWS) and prints cdk-nag's result; a
wrong option stops before the CLI starts, naming the option; after a deploy it prints the repository
variables deploy.yml reads and the deploy.yml line the trust depends on."""

from __future__ import annotations

import io
import json

import pytest

from infra.deploy_access import DeployAccess
from ops import deploy_role


def test_synth_runs_the_cdk_cli_on_the_deploy_access_app_and_prints_cdk_nags_result(tmp_path):
    printed = io.StringIO()

    status = deploy_role.main(
        ["--repo", "acme/weather-api", "--branch", "main", "--synth"], outdir=tmp_path, out=printed
    )

    assert status == 0
    template = json.loads((tmp_path / "TollgateDeployAccess.template.json").read_text())
    deploy, smoke = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    (statement,) = deploy["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert smoke["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [statement]
    assert (
        statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        == "repo:acme/weather-api:ref:refs/heads/main"
    )
    assert "(nothing deployed)" in printed.getvalue()
    assert "cdk-nag AwsSolutions: 0 unacknowledged error(s)" in printed.getvalue()


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: --repo"),
    (["--repo", "acme"], "--repo must be the GitHub repository as OWNER/NAME (e.g. acme/weather-api)"),
    (["--repo", "acme/w", "--branch", "main", "--environment", "prod"],
     "argument --environment: not allowed with argument --branch"),
    (["--repo", "acme/w", "--stage", "a b"], "--stage must be the deployment's stage_name"),
])  # fmt: skip
def test_a_wrong_option_stops_before_the_cdk_cli_naming_it(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(deploy_role.subprocess, "run", lambda *a, **k: pytest.fail("the CDK CLI ran"))

    with pytest.raises(SystemExit) as exit_:
        deploy_role.main(argv)

    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_deploy_runs_cdk_deploy_with_an_outputs_file_and_no_approval_bypass(tmp_path):
    command = deploy_role.cdk_command(
        DeployAccess(repository="acme/w"), ["deploy", "--outputs-file", "o.json"], tmp_path
    )

    assert command[:6] == ["npx", "--no-install", "cdk", "--no-notices", "deploy", "--outputs-file"]
    assert "--require-approval" not in command  # the owner sees the IAM changes at the terminal
    assert command[command.index("--app") + 1].endswith(" -m infra.deploy_access")
    assert command[-6:] == [
        "--context",
        "deploy_access_repository=acme/w",
        "--context",
        "deploy_access_tollgate_stack=Tollgate",
        "--context",
        "deploy_access_stage=prod",
    ]


ROLE = "arn:aws:iam::123456789012:role/TollgateDeployAccess-DeployRole885297C3-AbCdEf"
SMOKE_ROLE = "arn:aws:iam::123456789012:role/TollgateDeployAccess-SmokeRole12AB34CD-GhIjKl"
OUTPUTS = {"DeployRoleArn": ROLE, "SmokeRoleArn": SMOKE_ROLE, "DeployRegion": "eu-west-1"}


def test_the_next_steps_name_the_variables_to_set_in_the_repository():
    text = deploy_role.next_steps(DeployAccess(repository="acme@12/weather@34"), OUTPUTS)

    assert f"gh variable set AWS_DEPLOY_ROLE_ARN --repo acme/weather --body {ROLE}" in text
    assert f"gh variable set AWS_SMOKE_ROLE_ARN --repo acme/weather --body {SMOKE_ROLE}" in text
    assert "gh variable set AWS_REGION --repo acme/weather --body eu-west-1" in text
    assert "repo:acme@12/weather@34:environment:production may now assume" in text
    assert "(to make smoke Tollgate, stage prod)" in text
    assert "deploy.yml" not in text.split("e.g. with the GitHub CLI:")[1]  # deploy.yml's environment already fits


@pytest.mark.parametrize(("access", "advice"), [
    (DeployAccess(repository="acme/w", branch="main"), "remove the line `environment: production`"),
    (DeployAccess(repository="acme/w", environment="live"), "set `environment: live` in .github/workflows/deploy.yml"),
])  # fmt: skip
def test_a_trust_deploy_yml_does_not_match_says_what_to_change_in_it(access, advice):
    assert advice in deploy_role.next_steps(access, OUTPUTS)
