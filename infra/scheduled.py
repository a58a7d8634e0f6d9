"""A Tollgate function EventBridge Scheduler invokes on a fixed rate: the reconciler and the
housekeeping and the key retirement (infra/billing_lifecycle.py, infra/housekeeping.py,
infra/customer_accounts.py) are each one of these, with their own IAM.

- EventBridge Scheduler invokes a Lambda target asynchronously ("Invoke a Lambda function on a
  schedule", Lambda developer guide). Lambda does not retry a failed run (retry_attempts=0): the
  next run starts over (the reconciler from the cursor its run saved). Scheduler retries only a
  delivery it could not make (the invoke was throttled, say), for at most two minutes, well inside
  the interval.
- The schedule's role may invoke this function only, and only schedules of this account's default
  group may assume it (confused-deputy conditions, as CDK's own target role has).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.functions import Functions
from infra.nag import acknowledge_wildcards, arn_of

SCHEDULER_DELIVERY_WINDOW = Duration.minutes(2)


class ScheduledFunction(Construct):
    """The function (`function`, a PythonFunction, construct id = this construct's) and its schedule
    (`schedule`) every `interval`. Subclasses add their IAM; the construct ids keep the reconciler's
    resources where they were before this class existed (their functions have fixed names, which
    CloudFormation cannot replace in place)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        handler: str,
        description: str,
        timeout: Duration,
        interval: Duration,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.business(
            self, construct_id, handler=handler, timeout=timeout, description=description, memory_size=memory_size
        )
        function_name = functions.name_of(handler)
        self.function.function.configure_async_invoke(retry_attempts=0)
        self.interval = interval
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.rate(interval),
            target=targets.LambdaInvoke(
                self.function.function,
                retry_attempts=2,
                max_event_age=SCHEDULER_DELIVERY_WINDOW,
                role=self._schedule_role(function_name),
            ),
            description=f"Tollgate: invoke {function_name} every {interval.to_human_string()}",
        )

    @property
    def role(self) -> iam.Role:
        return self.function.role

    def _schedule_role(self, function_name: str) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ScheduleRole",
            description=f"EventBridge Scheduler: invoke {function_name}",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler", resource="schedule-group", resource_name="default"
                        ),
                    }
                },
            ),
        )
        acknowledge_wildcards(
            role,
            [f"Resource::{arn_of(self.function.function)}:*"],
            "Lambda's grantInvoke names the function and its qualified ARNs (<function>:*); this role may invoke "
            "this one function only.",
        )
        return role
