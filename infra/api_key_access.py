"""Who may do what to API keys: every grant on a key is conditioned on the deployment's owner tag.

API keys live account-wide (`/apikeys/{id}`), so a role allowed GET/PATCH/DELETE on `/apikeys/*`
could read the value of, disable or delete any key in the region, other APIs' included. Every key
Tollgate creates carries `contract.API_KEY_OWNER_TAG` = this deployment's name, and:
- reading, enabling/disabling and deleting a key require that tag on it (`aws:ResourceTag`);
- creating a key requires the request to carry exactly that tag (`aws:RequestTag`, `aws:TagKeys`);
  tagging on create is authorized as `apigateway:PUT` on the key's `/tags/...` resource (the
  Service Authorization Reference lists CreateApiKey as apigateway:POST + apigateway:PUT), granted
  on API-key tag resources only and with the same conditions;
- usage-plan membership, and setting what a key has left of its quota (UpdateUsage: PATCH on
  `/usageplans/{id}/keys/{keyId}/usage`, a key rotation's carry-over), are granted on THIS
  deployment's usage plans' keys only (a usage plan key is not taggable). Resource ARNs: "API Gateway
  Amazon Resource Name (ARN) reference"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html).
Tag conditions for API Gateway management actions: "Using tags to control access to API Gateway
REST API resources" (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-iam-policy.html).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam

from infra.nag import acknowledge_wildcards, ref_of
from tollgate import contract

_TAG_CONDITION = f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}"
_REQUEST_TAG_CONDITION = f"aws:RequestTag/{contract.API_KEY_OWNER_TAG}"


class ApiKeyAccess:
    """Grants on API keys for one deployment (`owner`, the value of the owner tag) and its usage plans
    (one per Tollgate plan)."""

    def __init__(self, stack: Stack, usage_plans: Sequence[apigw.IUsagePlan], owner: str) -> None:
        self._owner = owner
        self._usage_plans = tuple(usage_plans)
        base = f"arn:{stack.partition}:apigateway:{stack.region}::"
        self._keys = f"{base}/apikeys"
        self._key = f"{base}/apikeys/*"
        # The tags resource of an API key: /tags/<URL-encoded key ARN>.
        self._key_tags = f"{base}/tags/arn%3A{stack.partition}%3Aapigateway%3A{stack.region}%3A%3A%2Fapikeys%2F*"
        self._plan_keys = [f"{base}/usageplans/{plan.usage_plan_id}/keys" for plan in self._usage_plans]
        self._plan_key = [f"{base}/usageplans/{plan.usage_plan_id}/keys/*" for plan in self._usage_plans]
        self._plan_usage = [f"{base}/usageplans/{plan.usage_plan_id}{path}"
                            for plan in self._usage_plans for path in ("", "/usage")]

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
        """List the region's keys (GetApiKeys) to count them against the quota: every key counts, so
        this is not conditioned on the owner tag (IAM has no condition for a listing's items)."""
        self._allow(role, ["apigateway:GET"], [self._keys])

    def grant_plan_membership(self, role: iam.IRole, *, attach: bool = True, detach: bool = False) -> None:
        """Add keys to (and/or remove them from) this deployment's usage plans."""
        if attach:
            self._allow(role, ["apigateway:POST"], self._plan_keys)
        if detach:
            self._allow(role, ["apigateway:DELETE"], self._plan_key)
            for plan in self._usage_plans:
                self._acknowledge(role, self._plan_key_finding(plan))

    def grant_plan_usage(self, role: iam.IRole) -> None:
        """Read the usage plans (their quota) and their keys' usage (GetUsagePlan, GetUsage)."""
        self._allow(role, ["apigateway:GET"], self._plan_usage)

    def grant_quota_carry_over(self, role: iam.IRole) -> None:
        """Set what a key of this deployment's usage plans has left of its quota (a rotated-in key takes over its
        predecessor's)."""
        self._allow(role, ["apigateway:PATCH"], [f"{plan_key}/usage" for plan_key in self._plan_key])
        for plan in self._usage_plans:
            self._acknowledge(role, f"{self._plan_key_finding(plan)}/usage")

    def _allow_owned(self, role: iam.IRole, action: str) -> None:
        self._allow(role, [action], [self._key], {"StringEquals": {_TAG_CONDITION: self._owner}})
        self._acknowledge(role, "Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*")

    @staticmethod
    def _allow(role: iam.IRole, actions: list[str], resources: list[str], conditions: dict | None = None) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions))

    @staticmethod
    def _plan_key_finding(usage_plan: apigw.IUsagePlan) -> str:
        return f"Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/{ref_of(usage_plan)}/keys/*"

    @staticmethod
    def _key_tags_finding() -> str:
        return ("Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/tags/arn%3A<AWS::Partition>%3Aapigateway%3A"
                "<AWS::Region>%3A%3A%2Fapikeys%2F*")

    def _acknowledge(self, role: iam.IRole, finding: str) -> None:
        acknowledge_wildcards(
            role,
            [finding],
            "API key ids are made at run time, so key grants name /apikeys/* (and their /tags/ resource), "
            f"conditioned on the key carrying (or a create requesting exactly) the tag {contract.API_KEY_OWNER_TAG}="
            f"<this deployment>; usage-plan membership and a key's quota left are limited to this deployment's "
            "usage plans, whose keys "
            "carry no tags.",
        )
