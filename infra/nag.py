"""cdk-nag acknowledgments: one place that knows the id format, so every construct just says
what it accepts and why, on the narrowest scope (the construct that owns the finding).

tests/infra/test_nag.py proves which id forms silence a finding: the rule id with or without the
"AwsSolutions::" prefix both work, granular IAM findings need their exact `[Action::...]` or
`[Resource::...]` suffix (a bare "AwsSolutions-IAM5" silences none of them), and an
acknowledgment only covers findings inside the construct it was made on.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

from infra import legacy_ids

PLUGIN_PREFIX = "AwsSolutions::"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept the AwsSolutions finding `rule` (e.g. "AwsSolutions-S1") for `scope` and below."""
    Validations.of(scope).acknowledge(Acknowledgment(id=PLUGIN_PREFIX + rule, reason=reason))


def acknowledge_wildcards(scope: IConstruct, findings: list[str], reason: str) -> None:
    """Accept granular IAM5 findings, each given as its `Action::...` / `Resource::...` evidence."""
    for finding in findings:
        acknowledge(scope, f"AwsSolutions-IAM5[{finding}]", reason)


def arn_of(resource: IConstruct) -> str:
    """How cdk-nag spells `Fn::GetAtt [<logical id>, Arn]` in a finding: "<LogicalId.Arn>"."""
    return f"<{_logical_id(resource)}.Arn>"


def ref_of(resource: IConstruct) -> str:
    """How cdk-nag spells `Ref <logical id>` in a finding: "<LogicalId>"."""
    return f"<{_logical_id(resource)}>"


def _logical_id(resource: IConstruct) -> str:
    """The id the template gives it, even before infra/legacy_ids.py pins a moved construct's ids."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    return legacy_ids.logical_id(cfn)
