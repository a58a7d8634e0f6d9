"""The smoke role of .github/workflows/deploy.yml: what `make smoke` (ops/smoke.py) needs to test the
deployed Tollgate stack as its owner, and nothing more. A role apart from the deploy role, so the
step that deploys never holds customer data and the step that reads it never deploys; it trusts the
same GitHub subject (infra/deploy_access.py builds both).

`make smoke` does everything a customer does over HTTP; with AWS credentials it only finds the
deployment, stores the two email links a customer would get by mail, and removes what it created:
- `cloudformation:DescribeStacks` on the Tollgate stack: its outputs (the API and signup URLs, the
  register function's name);
- `lambda:GetFunctionConfiguration` on the register function (`<stack>-<stage>-register`, the name
  infra/functions.py gives it): its environment says where everything is;
- `secretsmanager:GetSecretValue` on the Stripe secret, found by the owner tag the stack puts on it
  (`contract.API_KEY_OWNER_TAG` = `<stack>/<stage>`); a secret the stack did not create
  (`existing_stripe_secret_arn`) needs that tag put on it once (docs/deploying.md says how). The
  Stripe key then does the Stripe side (reading the meter, canceling, deleting the customer);
- the accounts table: `GetItem` (the account's subscription) and `DeleteItem` (the run's row and
  its earlier keys' index items, alone or in one TransactWriteItems, which DynamoDB authorizes as
  the item actions it contains);
- the keys table: `DeleteItem` (the items of the run's keys, by their hashes on the row);
- the customer access table: `PutItem` (the owner's sign-up and sign-in links), `DeleteItem` and
  `Scan` (remove the run's unused links, its sessions and key-retirement reminders) and `Query` on
  the `byOwner` index (the run's sessions);
- `apigateway:DELETE` on API keys carrying this deployment's owner tag: the keys the run created.
The tables have names CloudFormation generates, `<stack>-<logical id>-<random>`
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html),
so they are named here by the logical ids of the Tollgate stack's three tables, which
tests/infra/test_deploy_access.py checks against its template. The tables and the secret are
encrypted with AWS managed keys, which need no KMS grant of the caller's own.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

from infra import nag
from tollgate import contract

# The Tollgate stack's logical ids of the tables make smoke writes (infra/billing_lifecycle.py, infra/authorizer.py,
# infra/customer_accounts.py).
ACCOUNTS_TABLE_ID = "DataAccountsTable816B83C6"
KEYS_TABLE_ID = "KeyAuthorizerKeysTable0BBD67DF"
ACCESS_TABLE_ID = "CustomerAccountsAccessTable2B59B48D"
_OWNER_TAG = f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}"


def owner(tollgate_stack: str, stage: str) -> str:
    """The value of the owner tag on this deployment's keys and Stripe secret (infra/gateway.py: Gateway.key_owner)."""
    return f"{tollgate_stack}/{stage}"


def grant_smoke(stack: Stack, role: iam.Role, tollgate_stack: str, stage: str) -> None:
    """The statements above on `role`, for the deployment `tollgate_stack` at `stage` in `stack`'s account and region."""
    tagged = {"StringEquals": {_OWNER_TAG: owner(tollgate_stack, stage)}}

    def table(logical_id: str) -> str:
        return stack.format_arn(service="dynamodb", resource="table", resource_name=f"{tollgate_stack}-{logical_id}-*")

    statements = [
        (["cloudformation:DescribeStacks"],
         [stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{tollgate_stack}/*")], None),
        (["lambda:GetFunctionConfiguration"],
         [stack.format_arn(service="lambda", resource="function", resource_name=f"{tollgate_stack}-{stage}-register",
                           arn_format=ArnFormat.COLON_RESOURCE_NAME)], None),
        (["secretsmanager:GetSecretValue"], [stack.format_arn(
            service="secretsmanager", resource="secret", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME)],
         tagged),
        (["dynamodb:GetItem", "dynamodb:DeleteItem"], [table(ACCOUNTS_TABLE_ID)], None),
        (["dynamodb:DeleteItem"], [table(KEYS_TABLE_ID)], None),
        (["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"], [table(ACCESS_TABLE_ID)], None),
        (["dynamodb:Query"], [f"{table(ACCESS_TABLE_ID)}/index/{contract.ACCESS_INDEX_BY_OWNER}"], None),
        (["apigateway:DELETE"], [f"arn:{stack.partition}:apigateway:{stack.region}::/apikeys/*"], tagged),
    ]  # fmt: skip
    for actions, resources, condition in statements:
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources,
                                               conditions=condition))  # fmt: skip
    partition_region_account = "arn:<AWS::Partition>:{}:<AWS::Region>:<AWS::AccountId>:{}"
    nag.acknowledge_wildcards(role, [
        "Resource::" + partition_region_account.format("cloudformation", f"stack/{tollgate_stack}/*"),
        "Resource::" + partition_region_account.format("secretsmanager", "secret:*"),
        "Resource::" + partition_region_account.format("dynamodb", f"table/{tollgate_stack}-{ACCOUNTS_TABLE_ID}-*"),
        "Resource::" + partition_region_account.format("dynamodb", f"table/{tollgate_stack}-{KEYS_TABLE_ID}-*"),
        "Resource::" + partition_region_account.format("dynamodb", f"table/{tollgate_stack}-{ACCESS_TABLE_ID}-*"),
        "Resource::" + partition_region_account.format(
            "dynamodb", f"table/{tollgate_stack}-{ACCESS_TABLE_ID}-*/index/{contract.ACCESS_INDEX_BY_OWNER}"),
        "Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*",
    ], "Each wildcard stands for what only exists once deployed: the id CloudFormation gives the Tollgate stack, "
       "the random part of its tables' generated names; the Stripe secret and the API keys are matched by the "
       "deployment's owner tag instead (infra/smoke_access.py).")  # fmt: skip
