"""The scheduled reconciler: an EventBridge Scheduler schedule that invokes the reconciler function
every `reconcile_interval_minutes`, so a non-payer is cut off (and a payer restored) within one
interval even if every Stripe webhook is lost (tollgate/domain/reconciliation.py).

- EventBridge Scheduler invokes a Lambda target asynchronously ("Invoke a Lambda function on a
  schedule", Lambda developer guide). Lambda does not retry a failed run (retry_attempts=0): the
  next run resumes from the cursor the run saved. Scheduler retries only a delivery it could not
  make (the invoke was throttled, say), for at most two minutes, well inside the interval.
- The function's timeout (contract.RECONCILER_TIMEOUT_SECONDS) is at most the shortest interval, so
  two runs never overlap; the run itself stops a minute before it.
- Least privilege, like the webhook's: enable/disable this deployment's keys and add them to THIS
  usage plan (infra/api_key_access.py), read the Stripe secret, read/write the accounts table.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.api_key_access import ApiKeyAccess
from infra.functions import FunctionConfig, PythonFunction
from infra.nag import acknowledge_wildcards, arn_of
from tollgate import contract

SCHEDULER_DELIVERY_WINDOW = Duration.minutes(2)


class ScheduledReconciler(Construct):
    """The reconciler function (`function`) and its schedule (`schedule`)."""

    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, config: FunctionConfig,
                 interval_minutes: int, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.function = PythonFunction(
            self,
            "Reconciler",
            code=code,
            function_name=f"{name_prefix}-reconciler",
            handler=contract.HANDLER_RECONCILER,
            timeout=Duration.seconds(contract.RECONCILER_TIMEOUT_SECONDS),
            description="Tollgate reconciler: repairs keys and accounts whose Stripe webhook was lost",
            environment=config.environment(),
            memory_size=256,
        )
        self.function.function.configure_async_invoke(retry_attempts=0)
        role = self.function.role
        keys = ApiKeyAccess(Stack.of(self), config.usage_plan, config.key_owner)
        keys.grant_enable(role)
        keys.grant_plan_membership(role, attach=True)
        config.stripe_secret.grant_read(role)
        config.accounts_table.grant_read_write_data(role)
        acknowledge_wildcards(
            role, [f"Resource::{arn_of(config.accounts_table)}/index/*"],
            "The reconciler finds an account by subscription id through the accounts table's GSI (<table>/index/*).")

        self.schedule = invoke_on_schedule(
            self, self.function.function, Duration.minutes(interval_minutes),
            f"Tollgate: reconcile API keys with Stripe every {interval_minutes} minutes")


def invoke_on_schedule(scope: Construct, function: lambda_.IFunction, every: Duration,
                       description: str) -> scheduler.Schedule:
    """An EventBridge Scheduler schedule invoking `function` every `every` (asynchronously: Scheduler
    retries only an undelivered invoke, within SCHEDULER_DELIVERY_WINDOW), with its own role that only
    schedules of this account's default group may assume (confused-deputy conditions, as CDK's own
    target role has) and that may invoke this function only."""
    stack = Stack.of(scope)
    role = iam.Role(scope, "ScheduleRole", description=f"EventBridge Scheduler: {description}",
                    assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={"StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(service="scheduler", resource="schedule-group",
                                                          resource_name="default"),
                    }}))
    acknowledge_wildcards(
        role, [f"Resource::{arn_of(function)}:*"],
        "Lambda's grantInvoke names the function and its qualified ARNs (<function>:*); this role may invoke "
        "that one function only.")
    return scheduler.Schedule(
        scope, "Schedule", schedule=scheduler.ScheduleExpression.rate(every),
        target=targets.LambdaInvoke(function, retry_attempts=2, max_event_age=SCHEDULER_DELIVERY_WINDOW, role=role),
        description=description)
