"""cdk-nag acknowledgments: one place that knows the id format, so every construct just says
what it accepts and why, on the narrowest scope (the construct that owns the finding).

tests/infra/test_nag.py proves which id forms silence a finding: the rule id with or without the
"AwsSolutions::" prefix both work, granular IAM findings need their exact `[Action::...]` or
`[Resource::...]` suffix (a bare "AwsSolutions-IAM5" silences none of them), and an
acknowledgment only covers findings inside the construct it was made on.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Token, Validations
from constructs import IConstruct

from infra import legacy_ids

PLUGIN_PREFIX = "AwsSolutions::"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept the AwsSolutions finding `rule` (e.g. "AwsSolutions-S1") for `scope` and below; pseudo
    parameters in its evidence are written `<AWS::Region>` etc. (see `_as_spelled`)."""
    for spelling in dict.fromkeys((rule, _as_spelled(scope, rule))):
        Validations.of(scope).acknowledge(Acknowledgment(id=PLUGIN_PREFIX + spelling, reason=reason))


def _as_spelled(scope: IConstruct, rule: str) -> str:
    """cdk-nag spells a pseudo parameter `<AWS::Region>` while the stack leaves it to deploy time, and
    as its value once the stack knows it (a stack with custom domains knows its environment:
    infra/domains.py), except where CDK keeps the token (managed policy ARNs keep `<AWS::Partition>`):
    the finding is acknowledged in both spellings, which only ever differ in a known environment."""
    stack = Stack.of(scope)
    for placeholder, value in (
        ("<AWS::Partition>", stack.partition),
        ("<AWS::Region>", stack.region),
        ("<AWS::AccountId>", stack.account),
        ("<AWS::URLSuffix>", stack.url_suffix),
    ):
        if not Token.is_unresolved(value):
            rule = rule.replace(placeholder, value)
    return rule


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
