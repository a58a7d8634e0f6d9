"""`make deploy-role ARGS="--repo OWNER/NAME"`: create, with your own AWS credentials, GitHub's OIDC
provider and the two least-privilege roles .github/workflows/deploy.yml assumes, one to deploy
(infra/deploy_access.py) and one for its `make smoke` step (infra/smoke_access.py), each saying which
permissions and why; then print the three repository variables deploy.yml reads.

Run it once per AWS account and region that Tollgate deploys to, after `npx cdk bootstrap` there and in
the same region as Tollgate (the roles act in that region only). The smoke role is scoped to one
deployment, the stack and stage given (default: cdk.json's stage_name): run it again after changing either. Again with other
options replaces the trust (the stack is updated). `--synth` writes the template and prints cdk-nag's
result without touching AWS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from infra import nag_report
from infra.deploy_access import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_TOLLGATE_STACK,
    GITHUB_ISSUER,
    STACK_NAME,
    DeployAccess,
    DeployAccessError,
    shipped_stage,
)

ROOT = Path(__file__).resolve().parent.parent
OUTDIR = ROOT / ".tollgate" / "deploy-access.out"  # kept apart from cdk.out, which holds the Tollgate stack
OUTPUTS_FILE = "outputs.json"


def main(argv: list[str] | None = None, *, outdir: Path = OUTDIR, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        access = DeployAccess(
            repository=arguments.repo,
            environment=arguments.environment or "",
            branch=arguments.branch or "",
            oidc_provider_arn=arguments.oidc_provider_arn or "",
            tollgate_stack=arguments.tollgate_stack,
            stage=arguments.stage,
        )
    except DeployAccessError as error:
        parser.error(str(error))
    verb = ["synth", "--quiet"] if arguments.synth else ["deploy", "--outputs-file", str(outdir / OUTPUTS_FILE)]
    result = subprocess.run(cdk_command(access, verb, outdir), cwd=ROOT, check=False)
    if result.returncode != 0:
        return result.returncode
    if arguments.synth:
        text, errors = nag_report.summarize(json.loads((outdir / nag_report.REPORT_FILE).read_text()))
        print(f"{outdir / (STACK_NAME + '.template.json')} written (nothing deployed).\n{text}", file=out)
        return 1 if errors else 0
    outputs = json.loads((outdir / OUTPUTS_FILE).read_text())[STACK_NAME]
    print(next_steps(access, outputs), file=out)
    return 0


def cdk_command(access: DeployAccess, verb: list[str], outdir: Path) -> list[str]:
    """The CDK CLI run of infra/deploy_access.py's app, the options as its context."""
    context = [flag for name, value in access.context().items() for flag in ("--context", f"{name}={value}")]
    return ["npx", "--no-install", "cdk", "--no-notices", *verb, STACK_NAME,
            "--app", f"{sys.executable} -m infra.deploy_access", "--output", str(outdir), *context]  # fmt: skip


# deploy.yml's repository variables, by the stack output that holds each value.
REPOSITORY_VARIABLES = {
    "AWS_DEPLOY_ROLE_ARN": "DeployRoleArn",
    "AWS_SMOKE_ROLE_ARN": "SmokeRoleArn",
    "AWS_REGION": "DeployRegion",
}


def next_steps(access: DeployAccess, outputs: dict[str, str]) -> str:
    """What to set in the GitHub repository, and the deploy.yml line the trust depends on."""
    repository = "/".join(part.split("@")[0] for part in access.repository.split("/"))
    lines = [
        f"Done. GitHub Actions runs of {access.subject} may now assume {outputs['DeployRoleArn']} (to deploy) and "
        f"{outputs['SmokeRoleArn']} (to make smoke {access.tollgate_stack}, stage {access.stage}).",
        f"Set deploy.yml's {len(REPOSITORY_VARIABLES)} repository variables (GitHub: Settings > Secrets and "
        "variables > Actions > Variables), e.g. with the GitHub CLI:",
        *(
            f"  gh variable set {variable} --repo {repository} --body {outputs[output]}"
            for variable, output in REPOSITORY_VARIABLES.items()
        ),
    ]
    if access.branch:
        lines.append(
            f"The role trusts runs on branch {access.branch} outside any environment: remove the line "
            f"`environment: {DEFAULT_ENVIRONMENT}` from .github/workflows/deploy.yml, or the token names "
            f"that environment instead and AWS refuses it."
        )
    elif access.environment and access.environment != DEFAULT_ENVIRONMENT:
        lines.append(
            f"The role trusts the environment {access.environment!r}: set `environment: "
            f"{access.environment}` in .github/workflows/deploy.yml."
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make deploy-role", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage='make deploy-role ARGS="--repo OWNER/NAME [--environment NAME | --branch NAME] '
              '[--oidc-provider-arn ARN] [--tollgate-stack NAME] [--stage NAME] [--synth]"')  # fmt: skip
    parser.add_argument(
        "--repo",
        required=True,
        help="the GitHub repository whose workflow runs may deploy, "
        "OWNER/NAME (OWNER@ID/NAME@ID if its OIDC subject claim carries the numeric ids)",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--environment",
        help=f"trust runs of jobs in this GitHub environment "
        f"(default: {DEFAULT_ENVIRONMENT}, the one deploy.yml names)",
    )
    trust.add_argument("--branch", help="trust runs on this branch instead, in no environment")
    parser.add_argument(
        "--oidc-provider-arn",
        help=f"the account's existing {GITHUB_ISSUER} provider (an "
        "account holds one per URL); without it the stack creates the provider",
    )
    parser.add_argument(
        "--tollgate-stack",
        default=DEFAULT_TOLLGATE_STACK,
        help=f"the Tollgate stack make smoke tests (default: {DEFAULT_TOLLGATE_STACK})",
    )
    parser.add_argument(
        "--stage",
        default=shipped_stage(),
        help=f"its stage_name, which names the register function and the owner tag the smoke role's "
        f"grants require (default: cdk.json's, {shipped_stage()})",
    )
    parser.add_argument("--synth", action="store_true", help="only synthesize and print cdk-nag's result")
    return parser


if __name__ == "__main__":
    sys.exit(main())
