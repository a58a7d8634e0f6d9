"""Usage limits on the stage: the "limit reached" key, on a usage plan that allows no call.

An account over a usage limit (tollgate.domain.usage_limits: a pooled plan's quota, later a spend cap
or empty prepaid credits) is still ALLOWED by the key authorizer, which answers this key as its
`usageIdentifierKey`: the stage itself then answers 429 QUOTA_EXCEEDED, with the gateway response
that names the limit, its end and the account page (infra/gateway_errors.py) and no Lambda in the
call's path. A Deny could only answer the stage's 403 (ACCESS_DENIED), whose status is the
authorizer's refusals'. The usage plan's quota is 0 a day (AWS::ApiGateway::UsagePlan QuotaSettings
Limit, minimum 0:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-usageplan-quotasettings.html),
so every call on it is over its quota. It has no throttle of its own: every limited account shares
this one key, and a shared per-key throttle would answer some of them THROTTLED (a body that names
no limit) instead of the quota's; the stage's and the account's throttles still apply.

The key's value is made here, from the stack's id (unique per stack; API Gateway generates none the
stack could read back), and given to the authorizer only (contract.ENV_LIMIT_REACHED_KEY). It is no
credential: the REST API takes keys from the authorizer alone (key source AUTHORIZER), so presenting
it as x-api-key is an unknown key (403), and its usage plan allows no call anyway. It is never logged.

The usage reporter decides and writes the limits: the accounts table's rows (GetItem and the
versioned UpdateItem of tollgate.adapters.dynamo_accounts) and the keys table's items (UpdateItem:
the row's copy, tollgate.adapters.dynamo_key_items); never an API Gateway call.
"""

from __future__ import annotations

from aws_cdk import Fn, Stack, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.authorizer import KeyAuthorizer
from infra.gateway import Gateway
from tollgate import contract


class UsageLimits(Construct):
    """The "limit reached" usage plan and key, told to the authorizer; the reporter's grants to write limits."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gateway: Gateway,
        key_authorizer: KeyAuthorizer,
        accounts_table: dynamodb.ITable,
        reporter_role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        value = Fn.join("", [contract.LIMIT_REACHED_KEY_PREFIX, Fn.select(2, Fn.split("/", stack.stack_id))])
        self.usage_plan = gateway.rest_api.add_usage_plan(
            "LimitReachedPlan",
            name=f"{stack.stack_name}-{gateway.stage.stage_name}-limit-reached",
            description="Tollgate: accounts over a usage limit (no call is allowed; the stage answers 429)",
            quota=apigw.QuotaSettings(limit=0, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=gateway.rest_api, stage=gateway.stage)],
        )
        # CDK leaves a quota limit of 0 out of the template (it renders only a truthy limit), and a quota
        # without a limit counts nothing: the 0 is written into the resource itself.
        usage_plan_resource = self.usage_plan.node.default_child
        assert isinstance(usage_plan_resource, apigw.CfnUsagePlan)
        usage_plan_resource.add_property_override("Quota.Limit", 0)
        self.key = apigw.ApiKey(
            self,
            "LimitReachedKey",
            value=value,
            enabled=True,
            description="Tollgate: the usage key of accounts over a usage limit (never a credential)",
        )
        for owned in (
            self.usage_plan,
            self.key,
        ):  # like every usage plan and key of the deployment (infra/api_key_access.py)
            Tags.of(owned).add(contract.API_KEY_OWNER_TAG, gateway.key_owner)
        self.usage_plan.add_api_key(self.key)
        key_authorizer.function.function.add_environment(contract.ENV_LIMIT_REACHED_KEY, value)
        reporter_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[accounts_table.table_arn]
            )
        )
        reporter_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[key_authorizer.keys_table.table_arn])
        )
