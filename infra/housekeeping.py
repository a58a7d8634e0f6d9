"""The scheduled housekeeping: EventBridge Scheduler invokes it every
contract.HOUSEKEEPING_INTERVAL_MINUTES (infra/scheduled.py); it deletes canceled accounts' keys after
`canceled_key_retention_days`, counts the region's API keys and the failed rows
(tollgate/domain/housekeeping.py).

Least privilege:
- delete this deployment's keys only (owner-tag condition, infra/api_key_access.py);
- make the pooled plans' shard keys (tollgate.domain.key_pools): create keys carrying the owner tag,
  read an owned key's value (a shard key a run made but did not record), list this deployment's keys
  by name, and add keys to this deployment's usage plans;
- count the region's keys: GET on the `/apikeys` collection, which IAM cannot narrow to a tag or
  stop from being asked for values (`includeValues`); the function never asks for them;
- scan the accounts table and put its rows (conditional writes), read and update key items by
  hash, nothing else: no index, no Stripe or Moesif secret.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.api_key_access import ApiKeyAccess
from infra.functions import Functions
from infra.scheduled import ScheduledFunction
from tollgate import contract


class ScheduledHousekeeping(ScheduledFunction):
    """The housekeeping function (`function`) and its schedule (`schedule`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        keys: ApiKeyAccess,
        accounts_table: dynamodb.ITable,
        keys_table: dynamodb.ITable,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            functions=functions,
            handler=contract.HANDLER_HOUSEKEEPING,
            timeout=Duration.seconds(contract.HOUSEKEEPING_TIMEOUT_SECONDS),
            description="Tollgate housekeeping: deletes canceled accounts' keys, counts keys and failed rows",
            interval=Duration.minutes(contract.HOUSEKEEPING_INTERVAL_MINUTES),
        )
        keys.grant_delete(self.role)
        keys.grant_count(self.role)  # (GET /apikeys: also the listing by name of the pools' keys)
        keys.grant_create(self.role)
        keys.grant_read(self.role)
        keys.grant_plan_membership(self.role, attach=True)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Scan", "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[accounts_table.table_arn],
            )
        )  # (Get/UpdateItem: the pools' items)
        # The key items follow the usage key a canceled account's row loses (tollgate.domain.key_items).
        keys_table.grant(self.role, "dynamodb:GetItem", "dynamodb:UpdateItem")
