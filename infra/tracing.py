"""X-Ray active tracing for every Tollgate function, applied once for the whole stack.

An aspect rather than a flag on each function, so a function added later is traced like the rest
without anyone remembering to say so. The stage's own tracing is `tracing_enabled` in infra/gateway.py.
X-Ray's write actions have no resource-level permissions (Service Authorization Reference, AWS X-Ray:
PutTraceSegments and PutTelemetryRecords take `*`), hence the acknowledged wildcard.
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from infra.nag import acknowledge_wildcards

TOLLGATE_HANDLER_PREFIX = "tollgate."  # CDK's own functions (the site deployment) are left as CDK made them


@jsii.implements(IAspect)
class ActiveTracing:
    """Sets Active tracing on each Tollgate function and lets its role write trace segments."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, lambda_.Function):
            return
        function = node.node.default_child
        if not isinstance(function, lambda_.CfnFunction) or not str(function.handler).startswith(
            TOLLGATE_HANDLER_PREFIX
        ):
            return
        function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        node.add_to_role_policy(
            iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
        )
        acknowledge_wildcards(
            node.role,
            ["Resource::*"],
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no "
            "resource-level permissions (Service Authorization Reference, AWS X-Ray).",
        )
