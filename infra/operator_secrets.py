"""The secrets an operator fills in after deploy (Stripe's keys, Moesif's application id), and the
stack outputs that name them: shared by the features that own one (infra/billing_lifecycle.py,
infra/gateway.py).

Each is created holding only contract.SECRET_PLACEHOLDER in every field (the runtime refuses to use
it; the put-secret-value command output fills it in after deploy), or an existing secret is used
when its complete ARN is given (aws-solutions-constructs' idea of props that accept an existing
resource), so real values never touch a template.
"""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from tollgate import contract


def placeholder_secret(
    scope: Construct,
    construct_id: str,
    existing_arn: str | None,
    *,
    description: str,
    fields: tuple[str, ...],
    rotation: str,
) -> secretsmanager.ISecret:
    """The existing secret when its complete ARN is given, else one holding only placeholders
    (`rotation` says why Secrets Manager cannot rotate it: the nag reason)."""
    if existing_arn:
        return secretsmanager.Secret.from_secret_complete_arn(scope, construct_id, existing_arn)
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        description=description,
        secret_object_value={field: SecretValue.unsafe_plain_text(contract.SECRET_PLACEHOLDER) for field in fields},
        removal_policy=RemovalPolicy.DESTROY,
    )
    acknowledge(secret, "AwsSolutions-SMG4", rotation)
    return secret


def output_secret(
    scope: Construct, name: str, secret: secretsmanager.ISecret, *, holds: str, values: str, example: dict[str, str]
) -> None:
    """The stack outputs `<name>SecretArn` and `Put<name>SecretCommand` (the command to run with the real values)."""
    stack = Stack.of(scope)
    stack_output(scope, f"{name}SecretArn", secret.secret_arn, f"Secret holding {holds}")
    command = (
        f"aws secretsmanager put-secret-value --region {stack.region} --secret-id {secret.secret_arn} "
        f"--secret-string '{json.dumps(example, separators=(',', ':'))}'"
    )
    stack_output(scope, f"Put{name}SecretCommand", command, f"Run this with the real {values} after deploy")


def stack_output(scope: Construct, output_id: str, value: str, description: str) -> None:
    """An output of the stack itself, whichever feature states it: operators and the ops commands read
    the outputs by these names (contract.STACK_OUTPUT_*), so they stay top-level ids."""
    CfnOutput(Stack.of(scope), output_id, value=value, description=description)
