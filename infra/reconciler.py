"""The scheduled reconciler: EventBridge Scheduler invokes the reconciler function every
`reconcile_interval_minutes` (infra/scheduled.py), so a non-payer is cut off (and a payer restored)
within one interval even if every Stripe webhook is lost (tollgate/domain/reconciliation.py).

- The function's timeout (contract.RECONCILER_TIMEOUT_SECONDS) is at most the shortest interval, so
  two runs never overlap; the run itself stops a minute before it, and the next resumes from its cursor.
- Least privilege, like the webhook's: enable/disable this deployment's keys and add them to THIS
  usage plan (infra/api_key_access.py), read the Stripe secret, read/write the accounts table.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.api_key_access import ApiKeyAccess
from infra.functions import FunctionConfig
from infra.nag import acknowledge_wildcards, arn_of
from infra.scheduled import ScheduledFunction
from tollgate import contract


class ScheduledReconciler(ScheduledFunction):
    """The reconciler function (`function`) and its schedule (`schedule`)."""

    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, config: FunctionConfig,
                 interval_minutes: int, name_prefix: str) -> None:
        super().__init__(
            scope, construct_id, code=code, function_name=f"{name_prefix}-reconciler",
            handler=contract.HANDLER_RECONCILER, timeout=Duration.seconds(contract.RECONCILER_TIMEOUT_SECONDS),
            description="Tollgate reconciler: repairs keys and accounts whose Stripe webhook was lost",
            environment=config.environment(), interval=Duration.minutes(interval_minutes))
        keys = ApiKeyAccess(Stack.of(self), tuple(config.usage_plans.values()), config.key_owner)
        keys.grant_enable(self.role)
        keys.grant_plan_membership(self.role, attach=True, detach=True)  # plan changes move keys
        config.stripe_secret.grant_read(self.role)
        config.accounts_table.grant_read_write_data(self.role)
        config.keys_table.grant_read_write_data(self.role)  # repairs key items that missed a row write
        acknowledge_wildcards(
            self.role, [f"Resource::{arn_of(config.accounts_table)}/index/*"],
            "The reconciler finds an account by subscription id through the accounts table's GSI (<table>/index/*).")
