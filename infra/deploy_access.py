"""The roles of .github/workflows/deploy.yml: GitHub's OIDC provider and the IAM deploy role that only
workflow runs of ONE repository (in one GitHub environment, or on one branch) can assume, with just
the permissions `cdk deploy Tollgate` needs in a CDK-bootstrapped account. A stack of its own
(`TollgateDeployAccess`), deployed once with the owner's credentials by `make deploy-role`
(ops/deploy_role.py), which runs this module as the CDK app: `python -m infra.deploy_access`.

Why these permissions and no others:
- `cdk deploy` does nothing with the caller's own credentials beyond knowing who it is: it assumes
  the roles `cdk bootstrap` created and works through them (the deploy role drives CloudFormation,
  which creates the resources as the CloudFormation execution role; the file-publishing role uploads
  the Lambda asset and the templates; the lookup role answers context lookups). The bootstrap roles
  trust every identity of their own account that an identity policy allows `sts:AssumeRole` on them
  ("Manage permissions for AWS CDK deployments",
  https://docs.aws.amazon.com/cdk/v2/guide/best-practices-security.html#best-practices-security-permissions-deployments;
  the roles: https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html#bootstrapping-env-roles).
  So the role may assume exactly those three roles, by name, in this account and region.
- Not the image-publishing role: Tollgate has no container image asset (its one Lambda asset is
  a zip built without Docker, infra/lambda_asset.py). A stack that adds one adds that role here.
Beside it, the smoke role deploy.yml's `make smoke` step assumes, with what that command needs on
this deployment's resources only (infra/smoke_access.py says which and why): the deploy role holds
no customer data, the smoke role cannot deploy.
GitHub's token is trusted only for the audience `sts.amazonaws.com` and the subject of the given
repository and environment (or branch); the claim formats are GitHub's
(https://docs.github.com/en/actions/reference/security/oidc). No thumbprint: IAM verifies GitHub's
OIDC endpoint with its library of trusted root CAs and ignores one
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateOpenIDConnectProviderThumbprint.html).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from infra.settings import load_cdk_json_context
from infra.smoke_access import grant_smoke
from tollgate import contract

STACK_NAME = "TollgateDeployAccess"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
DEFAULT_ENVIRONMENT = "production"  # deploy.yml's `environment:` (tests/test_workflows.py keeps them equal)
DEFAULT_TOLLGATE_STACK = contract.STACK_NAME  # app.py's stack id
# The roles `cdk deploy` of a zip-asset stack assumes (bootstrap template: cdk-<qualifier>-<kind>-role-<account>-<region>).
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")
# Where a CDK app sets its bootstrap qualifier; DefaultStackSynthesizer reads the same key
# (https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-customizing.html#bootstrapping-custom-synth).
QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
CONTEXT_PREFIX = "deploy_access_"  # how ops/deploy_role.py hands the options to this app (-c key=value)

# GitHub owners: letters, digits, hyphens; repositories also '.' and '_'. Repositories created since
# 15 July 2026 (or opted in) put the numeric ids in the subject: owner@<id>/name@<id>.
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(@\d+)?/[A-Za-z0-9._-]{1,100}(@\d+)?")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9._ -]{1,255}")
_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,255}")
_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/" + re.escape(GITHUB_ISSUER))
_STACK = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")  # infra/settings.py's stage_name
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def shipped_stage() -> str:
    """The stage `make deploy` deploys: cdk.json's stage_name."""
    return str(load_cdk_json_context(CDK_JSON)["stage_name"])


class DeployAccessError(ValueError):
    """An option of `make deploy-role` is wrong; the message names the option and what to give."""


@dataclass(frozen=True)
class DeployAccess:
    """Who may deploy (the repository and its environment or branch) and what they deploy."""

    repository: str = ""
    environment: str = ""
    branch: str = ""
    oidc_provider_arn: str = ""  # the account's existing GitHub provider; empty: this stack creates it
    tollgate_stack: str = DEFAULT_TOLLGATE_STACK
    stage: str = field(default_factory=shipped_stage)  # names the register function and the owner tag make smoke uses

    def __post_init__(self) -> None:
        if not _REPOSITORY.fullmatch(self.repository):
            raise DeployAccessError(
                f"--repo must be the GitHub repository as OWNER/NAME (e.g. acme/weather-api), or as "
                f"OWNER@ID/NAME@ID if its OIDC subject carries the numeric ids; got {self.repository!r}"
            )
        if self.environment and self.branch:
            raise DeployAccessError("give --environment or --branch, not both: the role trusts one subject")
        if self.environment and not _ENVIRONMENT.fullmatch(self.environment):
            raise DeployAccessError(
                f"--environment must be a GitHub environment name (letters, digits, "
                f"spaces, '.', '_', '-'); got {self.environment!r}"
            )
        if self.branch and (not _BRANCH.fullmatch(self.branch) or self.branch.startswith("refs/")):
            raise DeployAccessError(
                f"--branch must be a branch name without refs/heads/ (e.g. main); got {self.branch!r}"
            )
        if self.oidc_provider_arn and not _PROVIDER_ARN.fullmatch(self.oidc_provider_arn):
            raise DeployAccessError(
                f"--oidc-provider-arn must be the ARN of the account's GitHub provider, "
                f"arn:aws:iam::<account>:oidc-provider/{GITHUB_ISSUER}; got {self.oidc_provider_arn!r}"
            )
        if not _STACK.fullmatch(self.tollgate_stack):
            raise DeployAccessError(
                f"--tollgate-stack must be a CloudFormation stack name; got {self.tollgate_stack!r}"
            )
        if not _STAGE.fullmatch(self.stage):
            raise DeployAccessError(
                f"--stage must be the deployment's stage_name (1-128 letters, digits, '-' or '_'); got {self.stage!r}"
            )

    @property
    def subject(self) -> str:
        """The `sub` claim of the workflow runs allowed to assume the role."""
        if self.branch:
            return f"repo:{self.repository}:ref:refs/heads/{self.branch}"
        return f"repo:{self.repository}:environment:{self.environment or DEFAULT_ENVIRONMENT}"

    def context(self) -> dict[str, str]:
        """The CDK context that hands these options to this module's app."""
        return {CONTEXT_PREFIX + name: value for name, value in vars(self).items() if value}

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> DeployAccess:
        return cls(
            **{name: str(value) for name in cls.__dataclass_fields__ if (value := lookup(CONTEXT_PREFIX + name))}
        )


class DeployAccessStack(cdk.Stack):
    """GitHub's OIDC provider (unless the account has one), the deploy role and the smoke role; outputs their ARNs."""

    def __init__(self, scope: Construct, construct_id: str, *, access: DeployAccess, qualifier: str, **kwargs: Any):
        super().__init__(
            scope,
            construct_id,
            description="Tollgate: the roles GitHub Actions assumes to deploy it and to smoke-test it",
            **kwargs,
        )
        provider_arn = (
            access.oidc_provider_arn
            or iam.OidcProviderNative(
                self, "GitHubOidcProvider", url=f"https://{GITHUB_ISSUER}", client_ids=[STS_AUDIENCE]
            ).oidc_provider_arn
        )
        github = iam.WebIdentityPrincipal(
            provider_arn,
            conditions={"StringEquals": {f"{GITHUB_ISSUER}:aud": STS_AUDIENCE, f"{GITHUB_ISSUER}:sub": access.subject}},
        )
        self.role = iam.Role(
            self,
            "DeployRole",
            assumed_by=github,
            max_session_duration=cdk.Duration.hours(1),
            description=f"Assumed by GitHub Actions runs of {access.subject} to cdk deploy {access.tollgate_stack}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    self.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{qualifier}-{kind}-role-{self.account}-{self.region}",
                    )
                    for kind in BOOTSTRAP_ROLES
                ],
            )
        )
        self.smoke_role = iam.Role(
            self,
            "SmokeRole",
            assumed_by=github,
            max_session_duration=cdk.Duration.hours(1),
            description=f"Assumed by GitHub Actions runs of {access.subject} to make smoke {access.tollgate_stack}",
        )
        grant_smoke(self, self.smoke_role, access.tollgate_stack, access.stage)
        cdk.CfnOutput(
            self,
            "DeployRoleArn",
            value=self.role.role_arn,
            description="Set it as the repository variable AWS_DEPLOY_ROLE_ARN (deploy.yml's role-to-assume)",
        )
        cdk.CfnOutput(
            self,
            "SmokeRoleArn",
            value=self.smoke_role.role_arn,
            description="Set it as the repository variable AWS_SMOKE_ROLE_ARN (the make smoke step's role)",
        )
        cdk.CfnOutput(
            self,
            "DeployRegion",
            value=self.region,
            description="Set it as the repository variable AWS_REGION: the roles act in this region only",
        )


def build(app: cdk.App, access: DeployAccess) -> DeployAccessStack:
    """The stack in `app`, with the bootstrap qualifier the app's context sets, and cdk-nag on."""
    qualifier = app.node.try_get_context(QUALIFIER_CONTEXT) or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    stack = DeployAccessStack(app, STACK_NAME, access=access, qualifier=qualifier)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    """The CDK app `make deploy-role` runs (options arrive as deploy_access_* context)."""
    app = cdk.App()
    try:
        access = DeployAccess.from_context(app.node.try_get_context)
    except DeployAccessError as error:
        sys.exit(f"Tollgate deploy role: {error}")
    build(app, access)
    app.synth()


if __name__ == "__main__":
    main()
