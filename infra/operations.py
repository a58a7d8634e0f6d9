"""The operations feature: the hourly housekeeping, the alarms (and their topic) and the dashboard
(docs/operations.md).

The alarms live here, not in each feature, on purpose: they share one encrypted topic, one naming
scheme ("<stack>/<stage>: <what>", which `make status` lists by) and the alarm_* settings, and the
dashboard shows them side by side; the features expose what to watch (their functions, the stage,
the delivery stream, the dead letters) and infra/monitoring.py says what each alarm means.
"""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from infra.authorizer import KeyAuthorizer
from infra.billing_lifecycle import BillingLifecycle
from infra.customer_accounts import CustomerAccounts
from infra.dashboard import OperationsDashboard
from infra.functions import Functions
from infra.gateway import Gateway
from infra.housekeeping import ScheduledHousekeeping
from infra.monitoring import KEY_AUTHORIZER_TITLE, Alarms, Watched
from infra.operator_secrets import stack_output
from infra.settings import Settings
from infra.signup import SignUp
from infra.usage_metering import UsageMetering
from tollgate import contract


class Operations(Construct):
    """`housekeeping` (a ScheduledFunction), `alarms` and, with enable_dashboard, `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Functions,
        gateway: Gateway,
        billing: BillingLifecycle,
        signup: SignUp,
        customer_accounts: CustomerAccounts,
        usage_metering: UsageMetering | None,
        key_authorizer: KeyAuthorizer,
    ) -> None:
        super().__init__(scope, construct_id)
        functions.provide({contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(settings.canceled_key_retention_days)})
        self.housekeeping = ScheduledHousekeeping(
            self,
            "Housekeeping",
            functions=functions,
            keys=gateway.keys,
            accounts_table=billing.accounts_table,
            keys_table=key_authorizer.keys_table,
        )
        http_functions = {
            "register": signup.register.function,
            "checkout": billing.checkout.function,
            "Stripe webhook": billing.stripe_webhook.function,
            "account": customer_accounts.account.function,
        }
        scheduled = {
            "reconciler": billing.reconciler.function.function,
            "housekeeping": self.housekeeping.function.function,
            "key retirement": customer_accounts.key_retirement.function.function,
        }
        others = {
            KEY_AUTHORIZER_TITLE: key_authorizer.function.function,
            **({"usage reporter": usage_metering.reporter.function} if usage_metering else {}),
            **({"sample backend": gateway.sample_backend.function} if gateway.sample_backend else {}),
        }
        watched = Watched(
            deployment=gateway.key_owner,
            stage_name=settings.stage_name,
            stage=gateway.stage,
            http_functions=http_functions,
            all_functions={**http_functions, **scheduled, **others},
            delivery_stream_name=gateway.access_logs.delivery_stream.delivery_stream_name,
            dead_letter_queue=usage_metering.dead_letter_queue if usage_metering else None,
            reconcile_interval=billing.reconciler.interval,
            signup_requests_metric=contract.METRIC_SIGNUPS_REQUESTED
            if settings.verify_email
            else contract.METRIC_SIGNUPS_STARTED,
        )
        self.alarms = Alarms(self, "Alarms", settings=settings, watched=watched)
        stack_output(
            self,
            "AlarmTopicArn",
            self.alarms.topic.topic_arn,
            "Every alarm notifies this SNS topic; subscribe with: aws sns subscribe --topic-arn "
            "<this> --protocol email --notification-endpoint you@example.com",
        )
        self.dashboard = None
        if settings.enable_dashboard:
            name = f"{functions.name_prefix}-operations"
            self.dashboard = OperationsDashboard(
                self, "Dashboard", watched=watched, name=name, alarms=list(self.alarms.alarms.values())
            )
            region = Stack.of(self).region
            stack_output(
                self,
                "DashboardUrl",
                f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}",
                "The operations dashboard",
            )
