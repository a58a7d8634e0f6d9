"""Logical ids that stay where a deployed stack has them, while the constructs live by feature.

CloudFormation knows a resource by its logical id, and CDK derives that id from the construct's
path: moving a construct into its feature would rename every resource under it, and CloudFormation
replaces a renamed resource (a table or bucket starts empty, a fixed-name function or usage plan
fails to create beside its old self). tests/infra/test_logical_ids.py holds the template to the ids
of the versions before the features.

Why by construct path and not one `override_logical_id` per resource: a moved construct holds
dozens of resources (roles, their default policies, log groups, permissions, event invoke configs)
and grows more as grants are added; one line per moved construct says where it was, covers
everything under it, and needs no hashed id written anywhere. MOVED maps a construct's path under
the stack (as the features build it) to the path it had; `logical_id` computes the id CDK gives
that old path (CDK's makeUniqueId, aws-cdk-lib core/lib/private/uniqueid.ts), and the
`KeepLogicalIds` aspect pins every resource under a moved construct to it. Constructs that were
not moved keep their ids by themselves, and tests/infra/test_legacy_ids.py checks this module
computes exactly CDK's ids for them.

Some constructs were kept at their path on purpose rather than moved, because their path is
written into the names or ids of other resources (which no logical id override reaches): the REST
API (every Lambda permission's id names it), the usage queue (the event source mapping's id), the
CloudFront functions (their names) and the stack's outputs (the ops commands read them by name).
"""

from __future__ import annotations

import hashlib
import re

import jsii
from aws_cdk import CfnElement, IAspect, Stack
from constructs import IConstruct

# path under the stack now -> path it had (the construct and everything under it).
MOVED: dict[str, str] = {
    "Api/MoesifSecret": "Data/MoesifSecret",
    "Api/AccessLogs": "AccessLogs",
    "Api/Backend": "Backend",
    "Api/SampleBackend": "Functions/SampleBackend",
    "Api/Firewall": "Firewall",
    "Api/SiteOriginSecret": "CustomerAccounts/SiteOriginSecret",
    "SignUp/IdempotencyTable": "Data/IdempotencyTable",
    "SignUp/Register": "Functions/Register",
    "BillingLifecycle/AccountsTable": "Data/AccountsTable",
    "BillingLifecycle/Secret": "Data/Secret",
    "BillingLifecycle/Checkout": "Functions/Checkout",
    "BillingLifecycle/StripeWebhook": "Functions/StripeWebhook",
    "BillingLifecycle/Reconciler": "Reconciler",
    "Operations/Housekeeping": "Housekeeping",
    "Operations/Alarms": "Alarms",
    "Operations/Dashboard": "Dashboard",
}

_HIDDEN_ID = "Default"  # left out of the id entirely
_HIDDEN_FROM_HUMAN_ID = "Resource"  # left out of the readable part only
_HASH_LENGTH = 8
_MAX_HUMAN_LENGTH = 240
_MAX_ID_LENGTH = 255


def logical_id(element: CfnElement) -> str:
    """The id `element` keeps: CDK's id of the path it had before its construct moved (or of its path)."""
    return make_unique_id(legacy_path(_path_under_stack(element)))


def legacy_path(path: list[str]) -> list[str]:
    """`path` (construct ids under the stack) with a moved construct's prefix replaced by the one it had."""
    joined = "/".join(path)
    for now, before in MOVED.items():
        if joined == now or joined.startswith(now + "/"):
            return before.split("/") + path[len(now.split("/")) :]
    return path


def make_unique_id(components: list[str]) -> str:
    """CDK's logical id of the construct path `components` (makeUniqueId)."""
    components = [component for component in components if component != _HIDDEN_ID]
    if len(components) == 1 and len(_alphanumeric(components[0])) <= _MAX_ID_LENGTH:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:_HASH_LENGTH].upper()
    human = "".join(
        _alphanumeric(component) for component in _without_repeats(components) if component != _HIDDEN_FROM_HUMAN_ID
    )
    return human[:_MAX_HUMAN_LENGTH] + digest


def is_moved(element: CfnElement) -> bool:
    return legacy_path(path := _path_under_stack(element)) != path


@jsii.implements(IAspect)
class KeepLogicalIds:
    """Pins every resource (and output) under a moved construct to the logical id it had."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnElement) and is_moved(node):
            node.override_logical_id(logical_id(node))


def _path_under_stack(element: IConstruct) -> list[str]:
    scopes = element.node.scopes
    return [scope.node.id for scope in scopes[scopes.index(Stack.of(element)) + 1 :]]


def _alphanumeric(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", component)


def _without_repeats(components: list[str]) -> list[str]:
    """CDK's removeDupes: a component the previous one ends with adds nothing to the readable part."""
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept
