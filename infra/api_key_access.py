"""Who may do what to API keys and this deployment's usage plans: every API Gateway grant of every
function names this deployment's usage plans or carries its owner tag, except the three AWS allows no
narrowing of (UNCONDITIONED_GRANTS); tests/infra/test_iam_scoping.py holds every role of the template
to that.

API keys live account-wide (`/apikeys/{id}`), so a role allowed GET/PATCH/DELETE on `/apikeys/*`
could read the value of, disable or delete any key in the region, other APIs' included. Every key
Tollgate creates carries `contract.API_KEY_OWNER_TAG` = this deployment's name, and:
- reading, enabling/disabling and deleting a key require that tag on it (`aws:ResourceTag`);
- creating a key requires the request to carry exactly that tag (`aws:RequestTag`, `aws:TagKeys`);
  tagging on create is authorized as `apigateway:PUT` on the key's `/tags/...` resource (the
  Service Authorization Reference lists CreateApiKey as apigateway:POST + apigateway:PUT), granted
  on API-key tag resources only and with the same conditions;
- usage-plan membership (adding a key to, and removing one from, a plan) is granted on THIS
  deployment's usage plans only, by id, and conditioned on the owner tag, which each usage plan
  carries (tagged here) and its usage plan keys inherit ("If a tag is set on a UsagePlan, that tag
  is inherited by any UsagePlanKey resources under it", API Gateway developer guide, "API Gateway
  resources that can be tagged":
  https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html).
  What no condition can say: WHICH key is added. CreateUsagePlanKey names the key in its body, and
  the only tag condition of the UsagePlanKeys resource is the plan's, so adding a key to a plan
  cannot require that key's owner tag; the keys this deployment adds are its own by construction
  (created with the tag, by these functions).
- the grants no tag condition can narrow are UNCONDITIONED_GRANTS below, each with its reason.
Resource types and their condition keys: Service Authorization Reference, "Actions, resources, and
condition keys for Amazon API Gateway Management" (SERVICE_AUTHORIZATION_REFERENCE); ARNs: "API
Gateway Amazon Resource Name (ARN) reference"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html); tag
conditions: "Using tags to control access to API Gateway REST API resources"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-iam-policy.html).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam

from infra.nag import acknowledge_wildcards, ref_of
from tollgate import contract

_TAG_CONDITION = f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}"
_REQUEST_TAG_CONDITION = f"aws:RequestTag/{contract.API_KEY_OWNER_TAG}"
SERVICE_AUTHORIZATION_REFERENCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html"
)
# The API Gateway grants with no owner-tag condition, by (action, resource path with `{plan}` for one of
# this deployment's usage plans), and why AWS allows none. Any other grant carries the condition.
UNCONDITIONED_GRANTS = {
    ("apigateway:GET", "/apikeys"): (
        "GetApiKeys, to count the region's keys against the per-Region quota (every key counts, other "
        "deployments' included): the `/apikeys` collection carries no tag and IAM judges the request, never "
        "the items it lists; it cannot be narrowed to a tag nor kept from asking for values "
        f"({SERVICE_AUTHORIZATION_REFERENCE}, resource type ApiKeys). The function never asks for values."
    ),
    ("apigateway:GET", "/usageplans/{plan}/usage"): (
        "GetUsage: `/usageplans/{id}/usage` is no resource type of the Service Authorization Reference "
        f"({SERVICE_AUTHORIZATION_REFERENCE}), so no tag condition is evaluated for it; named by this deployment's "
        "usage plan ids instead."
    ),
}


class ApiKeyAccess:
    """Grants on API keys for one deployment (`owner`, the value of the owner tag) and its usage plans
    (one per Tollgate plan), which it tags with the owner tag its membership grants are conditioned on."""

    def __init__(self, stack: Stack, usage_plans: Sequence[apigw.IUsagePlan], owner: str) -> None:
        self._owner = owner
        self._usage_plans = tuple(usage_plans)
        for usage_plan in self._usage_plans:
            Tags.of(usage_plan).add(contract.API_KEY_OWNER_TAG, owner)
        base = f"arn:{stack.partition}:apigateway:{stack.region}::"
        self._keys = f"{base}/apikeys"
        self._key = f"{base}/apikeys/*"
        # The tags resource of an API key: /tags/<URL-encoded key ARN>.
        self._key_tags = f"{base}/tags/arn%3A{stack.partition}%3Aapigateway%3A{stack.region}%3A%3A%2Fapikeys%2F*"
        self._plan_keys = [f"{base}/usageplans/{plan.usage_plan_id}/keys" for plan in self._usage_plans]
        self._plan_key = [f"{base}/usageplans/{plan.usage_plan_id}/keys/*" for plan in self._usage_plans]
        self._plan_usage = [f"{base}/usageplans/{plan.usage_plan_id}/usage" for plan in self._usage_plans]

    def grant_create(self, role: iam.IRole) -> None:
        """Create keys carrying exactly the owner tag."""
        request_tags = {
            "StringEquals": {_REQUEST_TAG_CONDITION: self._owner},
            "ForAllValues:StringEquals": {"aws:TagKeys": [contract.API_KEY_OWNER_TAG]},
        }
        self._allow(role, ["apigateway:POST"], [self._keys], request_tags)
        self._allow(role, ["apigateway:PUT"], [self._key_tags], request_tags)
        self._acknowledge(role, self._key_tags_finding())

    def grant_read(self, role: iam.IRole) -> None:
        """Read an owned key, its value included (checkout compares it; a replayed sign-up shows it)."""
        self._allow_owned(role, "apigateway:GET")

    def grant_enable(self, role: iam.IRole) -> None:
        """Enable or disable an owned key."""
        self._allow_owned(role, "apigateway:PATCH")

    def grant_delete(self, role: iam.IRole) -> None:
        """Delete an owned key."""
        self._allow_owned(role, "apigateway:DELETE")

    def grant_count(self, role: iam.IRole) -> None:
        """List the region's keys (GetApiKeys) to count them against the quota: UNCONDITIONED_GRANTS."""
        self._allow(role, ["apigateway:GET"], [self._keys])

    def grant_plan_membership(self, role: iam.IRole, *, attach: bool = True, detach: bool = False) -> None:
        """Add keys to (and/or remove them from) this deployment's usage plans (owner-tagged, inherited by
        their usage plan keys)."""
        if attach:
            self._allow(role, ["apigateway:POST"], self._plan_keys, self._owned)
        if detach:
            self._allow(role, ["apigateway:DELETE"], self._plan_key, self._owned)
            for plan in self._usage_plans:
                self._acknowledge(role, self._plan_key_finding(plan))

    def grant_plan_usage(self, role: iam.IRole) -> None:
        """Read what this deployment's usage plans counted per key (GetUsage): UNCONDITIONED_GRANTS."""
        self._allow(role, ["apigateway:GET"], self._plan_usage)

    @property
    def _owned(self) -> dict:
        """The resource (a key, or a usage plan's keys) carries this deployment's owner tag."""
        return {"StringEquals": {_TAG_CONDITION: self._owner}}

    def _allow_owned(self, role: iam.IRole, action: str) -> None:
        self._allow(role, [action], [self._key], self._owned)
        self._acknowledge(role, "Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*")

    @staticmethod
    def _allow(role: iam.IRole, actions: list[str], resources: list[str], conditions: dict | None = None) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions))

    @staticmethod
    def _plan_key_finding(usage_plan: apigw.IUsagePlan) -> str:
        return f"Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/{ref_of(usage_plan)}/keys/*"

    @staticmethod
    def _key_tags_finding() -> str:
        return (
            "Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/tags/arn%3A<AWS::Partition>%3Aapigateway%3A"
            "<AWS::Region>%3A%3A%2Fapikeys%2F*"
        )

    def _acknowledge(self, role: iam.IRole, finding: str) -> None:
        acknowledge_wildcards(
            role,
            [finding],
            "API key ids are made at run time, so key grants name /apikeys/* (and their /tags/ resource), "
            f"conditioned on the key carrying (or a create requesting exactly) the tag {contract.API_KEY_OWNER_TAG}="
            f"<this deployment>; usage-plan membership (owner-tagged too) and a key's quota left are limited to this "
            "deployment's usage plans, whose keys are only reachable as /usageplans/<id>/keys/*.",
        )
