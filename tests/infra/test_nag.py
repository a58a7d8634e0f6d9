# mypy: disable-error-code="func-returns-value"
# (each case is a lambda doing two acknowledgments as a tuple: the values are never used)
"""cdk-nag: how acknowledgments really work (proved on a tiny stack), the report, the full app,
and cfn-lint on the synthesized template."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import AwsSolutionsChecks
from infra_synth import REPO_ROOT, cdk_json_context

from infra import nag, nag_report


def _tiny_app_is_clean(tmp_path, acknowledge) -> bool:
    """A stack with two known findings: SMG4 on a secret, IAM5[Action::s3:GetObject*] on a role."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    secret = secretsmanager.Secret(stack, "Secret")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject*"], resources=["arn:aws:s3:::bucket/key"]))
    acknowledge(secret, role)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:
        assert "ValidationFailed" in str(error)
        return False
    return True


def _ack(scope, rule_id: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason="probe"))


IAM5_GRANULAR = "AwsSolutions-IAM5[Action::s3:GetObject*]"
SMG4 = "AwsSolutions-SMG4"
PREFIX = "AwsSolutions::"


@pytest.mark.parametrize(
    ("case", "acknowledge", "clean"),
    [
        ("nothing acknowledged", lambda secret, role: None, False),
        ("plain ids", lambda s, r: (_ack(s, SMG4), _ack(r, IAM5_GRANULAR)), True),
        ("prefixed ids", lambda s, r: (_ack(s, PREFIX + SMG4), _ack(r, PREFIX + IAM5_GRANULAR)), True),
        ("bare IAM5 does not cover a granular finding", lambda s, r: (_ack(s, SMG4), _ack(r, "AwsSolutions-IAM5")), False),
        ("an acknowledgment only covers its own scope", lambda s, r: (_ack(r, SMG4), _ack(r, IAM5_GRANULAR)), False),
        ("infra.nag helpers",
         lambda s, r: (nag.acknowledge(s, SMG4, "x"), nag.acknowledge_wildcards(r, ["Action::s3:GetObject*"], "x")), True),
    ],
)  # fmt: skip
def test_which_acknowledgment_ids_silence_a_finding(tmp_path, case, acknowledge, clean):
    assert _tiny_app_is_clean(tmp_path, acknowledge) is clean, case


def test_the_stack_has_no_unacknowledged_finding_and_every_acknowledgment_has_a_reason(synth):
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (nag_plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]

    assert nag_plugin["violations"] == []
    assert nag_plugin["suppressedViolations"]
    for finding in nag_plugin["suppressedViolations"]:
        assert len(finding["reason"]) > 30, finding["ruleName"]
        assert finding["acknowledgedAt"].startswith("Tollgate/") and finding["acknowledgedAt"] != "Tollgate", finding


def test_nag_report_prints_the_result_in_one_place(synth, capsys):
    assert nag_report.main(["nag_report", str(synth.outdir)]) == 0

    printed = capsys.readouterr().out
    assert printed.startswith("cdk-nag AwsSolutions: 0 unacknowledged error(s), 0 warning(s), ")
    (smg4,) = [line for line in printed.splitlines() if line.startswith("  - AwsSolutions-SMG4: ")]
    assert "Holds Stripe's secret key and webhook signing secret" in smg4


def test_nag_report_fails_on_an_open_error():
    text, errors = nag_report.summarize(
        {"pluginReports": [{"pluginName": "AwsSolutions", "violations": [
            {"ruleName": "AwsSolutions-S1", "severity": "error", "violatingConstructs": [{"constructPath": "T/B"}]}
        ]}]}
    )  # fmt: skip

    assert errors == 1 and "! error AwsSolutions-S1 at T/B" in text


def _run_app_py(outdir: Path, **context_overrides) -> subprocess.CompletedProcess:
    """Runs app.py the way the CDK CLI does (context and outdir through the environment)."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(cdk_json_context(**context_overrides)),
        "CDK_OUTDIR": str(outdir),
    }
    return subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def test_app_py_synthesizes_with_the_nag_plugin_and_no_validation_failure(tmp_path):
    result = _run_app_py(tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "ValidationFailed" not in result.stderr
    assert (tmp_path / "Tollgate.template.json").is_file()
    assert nag_report.main(["nag_report", str(tmp_path)]) == 0


def test_a_wrong_setting_fails_the_app_synth_naming_the_key(tmp_path):
    result = _run_app_py(tmp_path, stage_name="prod stage")

    assert result.returncode != 0
    assert result.stderr.strip().endswith(
        "Tollgate settings: cdk.json context 'stage_name' must be 1-128 letters, digits, '-' or '_' (e.g. 'prod'); "
        "got 'prod stage'"
    )
    assert "Traceback" not in result.stderr


def _cfn_lint_errors(template: Path) -> list[str]:
    """cfn-lint's error (and fatal) findings; CDK's own templates only warn (W3005, W7001)."""
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable", str(template)], capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if re.search(r":E\d{4}:", line)]
    # Exit code bitmask: 1 = fatal, 2 = error, 4 = warning, 8 = info.
    if result.returncode & 3 and not errors:
        errors.append(result.stderr or result.stdout)
    return errors


def test_cfn_lint_finds_no_error_in_the_template(synth):
    assert _cfn_lint_errors(synth.outdir / "Tollgate.template.json") == []


def test_the_cfn_lint_check_catches_an_error(synth, tmp_path):
    template = json.loads((synth.outdir / "Tollgate.template.json").read_text())
    table_id = next(key for key, value in template["Resources"].items() if value["Type"] == "AWS::DynamoDB::Table")
    table = template["Resources"][table_id]
    table["Properties"]["BillingMode"] = "FREE_OF_CHARGE"
    broken = tmp_path / "broken.template.json"  # the stack's table alone: the check, not the whole template
    broken.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {table_id: table}}))

    assert any("'FREE_OF_CHARGE' is not one of" in error for error in _cfn_lint_errors(broken))
