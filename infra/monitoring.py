"""The owner hears about trouble before customers do: CloudWatch alarms on the functions' business
metrics (tollgate/metrics.py, names in tollgate.contract.metrics), on the functions, the stage, the usage
dead-letter queue and the Firehose delivery to Moesif, all sent to one encrypted SNS topic.

Every alarm is named "<stack>/<stage>: <what>" (`make status` lists those firing by that prefix)
and says in its description what it means and the first thing to do; docs/operations.md says the
same at more length. Each alarm also tells the topic when it is OK again.

The topic is encrypted with its own KMS key: CloudWatch cannot publish to a topic encrypted with
the AWS-managed SNS key, only to one whose key policy lets cloudwatch.amazonaws.com use the key
("Enable compatibility between event sources from AWS services and encrypted topics",
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
both that grant and the topic policy are limited to this account's alarms of this deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.settings import Settings
from tollgate import contract

FIVE_MINUTES = Duration.minutes(5)
ONE_HOUR = Duration.hours(1)
API_5XX_PER_FIVE_MINUTES = 5  # a single 503 while Stripe blinks is the answer working as designed
MOESIF_FAILING_PERIODS = 2  # 10 minutes: longer than Firehose's 5-minute retry of one delivery
HOUSEKEEPING_INTERVAL = Duration.minutes(contract.HOUSEKEEPING_INTERVAL_MINUTES)
_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


@dataclass(frozen=True)
class Watched:
    """What the alarms and the dashboard watch, as the stack built it."""

    deployment: str  # "<stack>/<stage>": the alarms' name prefix (contract.ALARM_NAME_SEPARATOR follows)
    stage_name: str  # the business metrics' dimension (contract.ENV_STAGE)
    stage: apigw.Stage
    http_functions: dict[str, lambda_.IFunction]  # title -> the register, checkout and webhook functions
    all_functions: dict[str, lambda_.IFunction]  # title -> every Tollgate function
    delivery_stream_name: str
    dead_letter_queue: sqs.IQueue | None  # None with usage_reporter=moesif
    reconcile_interval: Duration
    # What a sign-up wave shows in first: the requests with verify_email (each one an email sent,
    # whether or not its link is opened), the sign-ups started without it.
    signup_requests_metric: str = contract.METRIC_SIGNUPS_REQUESTED


def business_metric(
    name: str, stage_name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES, label: str | None = None
) -> cloudwatch.Metric:
    """A metric the functions publish (contract.METRIC_*), for this stage."""
    return cloudwatch.Metric(
        namespace=contract.METRICS_NAMESPACE,
        metric_name=name,
        statistic=statistic,
        period=period,
        label=label,
        dimensions_map={contract.METRICS_STAGE_DIMENSION: stage_name},
    )


def moesif_delivery_failures(stream_name: str, period: Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
    """Records Firehose attempted to deliver to Moesif, retries included, minus those Moesif accepted
    (Firehose's own DeliveryToHttpEndpoint.ProcessedRecords and .Records: "Delivery to HTTP
    Endpoints", Amazon Data Firehose developer guide; it publishes no failure count of its own)."""

    def firehose(metric: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Firehose",
            metric_name=f"DeliveryToHttpEndpoint.{metric}",
            dimensions_map={"DeliveryStreamName": stream_name},
            statistic="Sum",
            period=period,
        )

    return cloudwatch.MathExpression(
        expression="FILL(attempted, 0) - FILL(delivered, 0)",
        period=period,
        label="records Moesif did not accept",
        using_metrics={"attempted": firehose("ProcessedRecords"), "delivered": firehose("Records")},
    )


# The key authorizer (infra/authorizer.py) is in `all_functions` (its throttles are alarmed like every
# function's), but has no line of its own on the dashboard: API Gateway answers its failures and its
# throttled invocations 500, so they show in the Errors widget's "API 5xx", and the dashboard stays within
# CloudWatch's free 50 metrics.
KEY_AUTHORIZER_TITLE = "key authorizer"


def lambda_throttles(functions: dict[str, lambda_.IFunction]) -> cloudwatch.MathExpression:
    """Throttled invocations of every Tollgate function together."""
    return cloudwatch.MathExpression(
        expression="SUM(METRICS())",
        period=FIVE_MINUTES,
        label="throttled invocations",
        using_metrics={
            f"f{number}": function.metric_throttles(period=FIVE_MINUTES, statistic="Sum")
            for number, function in enumerate(functions.values())
        },
    )


class Alarms(Construct):
    """The alarm topic (`topic`, output AlarmTopicArn) and every alarm (`alarms`, by slug)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, watched: Watched) -> None:
        super().__init__(scope, construct_id)
        self._watched = watched
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.topic = self._topic(settings.alarm_email)
        self._function_alarms()
        self._money_alarms(settings)
        self._capacity_alarms(settings)

    def _topic(self, email: str | None) -> sns.Topic:
        stack = Stack.of(self)
        alarm_arns = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=self._watched.deployment + "*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        from_these_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarm_arns},
        }
        key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
            description="Tollgate: encrypts the alarm topic",
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_these_alarms,
            )
        )
        topic = sns.Topic(
            self,
            "Topic",
            master_key=key,
            enforce_ssl=True,
            display_name=f"Tollgate alarms ({self._watched.deployment})",
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_these_alarms,
            )
        )
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _function_alarms(self) -> None:
        for title, function in self._watched.http_functions.items():
            self._alarm(
                f"{title} function errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"The {title} function failed (an unhandled error or a timeout): its caller got a 502 from API "
                f"Gateway. First: the error in the function's log group (/aws/lambda/{function.function_name}); a "
                "crashed sign-up's leftovers are listed by `make failed-accounts`.",
            )
        self._alarm(
            "API 5xx",
            self._watched.stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            API_5XX_PER_FIVE_MINUTES,
            f"The API answered {API_5XX_PER_FIVE_MINUTES}+ 5xx in 5 minutes: sign-up and checkout answer 503 while "
            "Stripe, Moesif or AWS fail and 502 when one refuses a request; your backend's own 5xx count too. First: "
            "the dashboard's Errors widget (which function, or the backend), then that function's log group.",
        )
        self._alarm(
            "Lambda throttles",
            lambda_throttles(self._watched.all_functions),
            1,
            "Lambda refused to run a Tollgate function (the account's concurrency, or reserved_concurrency, is used "
            "up): sign-ups, webhooks or usage reports were turned away. First: the dashboard's Errors widget names "
            "the function; raise reserved_concurrency or ask AWS for a higher Lambda concurrency quota.",
        )

    def _money_alarms(self, settings: Settings) -> None:
        stage = self._watched.stage_name
        self._alarm(
            "failed sign-ups left behind",
            business_metric(contract.METRIC_FAILED_ACCOUNTS, stage, "Maximum", HOUSEKEEPING_INTERVAL),
            1,
            "A sign-up's rollback could not undo everything, or a sign-up died mid-way: its row still holds an API "
            'key, a Stripe customer or a subscription nobody uses. First: `make failed-accounts ARGS="--function '
            '<register function>"` lists them; `--clean` undoes them.',
        )
        self._heartbeat(
            "reconciler not running",
            contract.METRIC_RECONCILER_RUNS_SUCCEEDED,
            self._watched.reconcile_interval,
            "No reconciler run succeeded in two intervals: a lost Stripe webhook is not repaired (a non-payer keeps "
            "a working key). First: the reconciler's log group (a placeholder Stripe secret after a fresh deploy, "
            "Stripe refusing the key); `make status` shows its last run.",
        )
        self._alarm(
            "orphan subscriptions canceled",
            business_metric(contract.METRIC_ORPHAN_SUBSCRIPTIONS_CANCELED, stage, period=ONE_HOUR),
            1,
            "The reconciler canceled a live Stripe subscription of one of your customers that no account records "
            "(without a final invoice): it would have billed their usage a second time. Tollgate makes none itself "
            "unless a plan change's row write was lost (then it adopts it), so someone or something else created it. "
            "First: the reconciler's log group names the subscription and customer; check the Stripe dashboard's "
            "events for who created it.",
        )
        self._alarm(
            "Moesif delivery failing",
            moesif_delivery_failures(self._watched.delivery_stream_name),
            1,
            "For 10 minutes Firehose delivered access-log records that Moesif did not accept: Moesif's analytics miss "
            "calls (the usage ledger and Stripe do not: they are fed apart). The records are kept under failed/ in "
            "the ledger bucket. First: the Firehose DeliveryErrors log group (a placeholder or wrong Moesif "
            "application id answers 401; put the right one with PutMoesifSecretCommand).",
            evaluation_periods=MOESIF_FAILING_PERIODS,
        )
        self._alarm(
            "webhook signatures rejected",
            business_metric(contract.METRIC_WEBHOOK_EVENTS["rejected_signature"], stage, period=ONE_HOUR),
            settings.alarm_rejected_webhooks_per_hour,
            f"{settings.alarm_rejected_webhooks_per_hour}+ deliveries to /stripe/webhook in an hour were not signed "
            "by Stripe: a flood (the WAF limits each IP), or stripe_webhook_secret is not this endpoint's signing "
            "secret, and then every real event is refused. First: Stripe dashboard, Webhooks, this endpoint's "
            "recent deliveries: 400s there mean the secret is wrong.",
        )
        self._alarm(
            "billing portal not set up",
            business_metric(contract.METRIC_BILLING_PORTAL_NOT_SET_UP, stage),
            1,
            'A customer pressed "Manage billing" and was told billing management is not set up yet: the Stripe '
            "account has no active customer portal configuration of `make stripe-setup` (metadata tollgate=portal, "
            "plan changes off), and Tollgate never opens the account's default one, which may let customers replace "
            "their price and lose metered usage. First: run `make stripe-setup` with this deployment's Stripe key "
            "(test or live, as deployed); the account function's log group says what was missing.",
        )
        if self._watched.dead_letter_queue is not None:
            self._usage_alarms(self._watched.dead_letter_queue)

    def _usage_alarms(self, dead_letter_queue: sqs.IQueue) -> None:
        self._alarm(
            "usage report failing",
            business_metric(contract.METRIC_USAGE_REPORT_FAILURES, self._watched.stage_name),
            1,
            "The usage of a ledger object could not all be reported to Stripe (Stripe down or throttling, a refused "
            "meter event): it is retried with a growing delay for about 7 hours, then dead-lettered. First: the usage "
            "reporter's log group says why; `make usage-report` shows which customers are behind.",
        )
        self._alarm(
            "usage dead-lettered",
            dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
            1,
            "Usage failed 12 deliveries (about 7 hours) and sits in the dead-letter queue: those calls are on no "
            "invoice yet. First: fix the cause (the usage reporter's log group), then `make usage-redrive` sends it "
            "exactly once.",
        )

    def _capacity_alarms(self, settings: Settings) -> None:
        stage = self._watched.stage_name
        threshold = int(contract.API_KEYS_PER_REGION * contract.API_KEYS_ALARM_RATIO)
        self._alarm(
            "API keys near the regional quota",
            business_metric(contract.METRIC_API_KEYS_IN_REGION, stage, "Maximum", HOUSEKEEPING_INTERVAL),
            threshold,
            f"The region holds {threshold}+ API keys of API Gateway's {contract.API_KEYS_PER_REGION:,} per account "
            "and region (a quota AWS does not raise; every API's keys count): sign-ups fail once it is reached. "
            "First: docs/scaling.md: lower canceled_key_retention_days, delete other APIs' unused keys, or move "
            "other APIs to another account or region.",
        )
        self._heartbeat(
            "housekeeping not running",
            contract.METRIC_API_KEYS_IN_REGION,
            HOUSEKEEPING_INTERVAL,
            "The housekeeping has not counted the region's API keys for two runs: canceled accounts' keys are not "
            "deleted, and the key-quota and failed-sign-up alarms see nothing. First: its log group.",
        )
        signups = self._watched.signup_requests_metric
        counted = (
            "sign-up requests (emails sent)" if signups == contract.METRIC_SIGNUPS_REQUESTED else "sign-ups started"
        )
        self._alarm(
            "sign-ups per hour",
            business_metric(signups, stage, period=ONE_HOUR),
            settings.alarm_signups_per_hour,
            f"{settings.alarm_signups_per_hour}+ {counted} in an hour: a launch, or a bot wave using up API "
            "keys, Stripe customers or your email reputation. First: the emails in the accounts table and the WAF's "
            "sampled requests; lower signup_requests_per_ip, or raise alarm_signups_per_hour if it is real growth.",
        )

    def _heartbeat(self, title: str, metric_name: str, interval: Duration, description: str) -> None:
        """Fires when `metric_name` was not published in two intervals in a row (missing data counts)."""
        self._alarm(
            title,
            business_metric(metric_name, self._watched.stage_name, "SampleCount", interval),
            1,
            description,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def _alarm(
        self,
        title: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = _AT_LEAST,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        slug = "".join(word.capitalize() for word in title.replace("-", " ").split())
        alarm = cloudwatch.Alarm(
            self,
            slug,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=missing,
            alarm_name=f"{self._watched.deployment}{contract.ALARM_NAME_SEPARATOR}{title}",
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[slug] = alarm
