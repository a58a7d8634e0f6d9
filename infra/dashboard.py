"""One CloudWatch dashboard (`enable_dashboard`): sign-ups, billable calls and the units Stripe took,
API keys against the regional quota, webhook outcomes, errors, and every alarm's state, on one
screen. Each business metric is read by its tollgate.contract name, the name the functions emit.

Its cost: CloudWatch's free tier covers 3 dashboards of up to 50 metrics each; beyond that a
dashboard is $3 a month (CloudWatch pricing). This one shows fewer than 50 metrics.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.monitoring import (
    FIVE_MINUTES,
    KEY_AUTHORIZER_TITLE,
    ONE_HOUR,
    Watched,
    business_metric,
    lambda_throttles,
    moesif_delivery_failures,
)
from tollgate import contract

WIDTH, HEIGHT = 8, 6  # three widgets a row (the grid is 24 wide)


class OperationsDashboard(Construct):
    """The dashboard (`dashboard`), named `<stack>-<stage>-operations`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, watched: Watched, name: str, alarms: list[cloudwatch.IAlarm]
    ) -> None:
        super().__init__(scope, construct_id)
        self._watched = watched
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.days(1))
        self.dashboard.add_widgets(self._signups(), self._usage(), self._keys())
        self.dashboard.add_widgets(self._webhook(), self._errors(), self._reconciler())
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=4))

    def _metrics(
        self, *names: str, period: Duration = FIVE_MINUTES, statistic: str = "Sum"
    ) -> list[cloudwatch.IMetric]:
        return [business_metric(name, self._watched.stage_name, statistic, period, label=name) for name in names]

    @staticmethod
    def _graph(title: str, metrics: list[cloudwatch.IMetric], **options) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDTH, height=HEIGHT, **options)

    def _signups(self) -> cloudwatch.GraphWidget:
        return self._graph(
            "Sign-ups (per hour)",
            self._metrics(
                self._watched.signup_requests_metric,
                contract.METRIC_SIGNUPS_CONFIRMED,
                *contract.METRIC_SIGNUPS_FAILED.values(),
                contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS,
                period=ONE_HOUR,
            ),
        )

    def _usage(self) -> cloudwatch.GraphWidget:
        return self._graph(
            "Billable calls and units reported to Stripe (per hour)",
            self._metrics(
                contract.METRIC_BILLABLE_CALLS,
                contract.METRIC_USAGE_UNITS_REPORTED,
                contract.METRIC_UNKNOWN_KEY_CALLS,
                contract.METRIC_MALFORMED_RECORDS,
                contract.METRIC_AMBIGUOUS_REPORTS,
                period=ONE_HOUR,
            ),
        )

    def _keys(self) -> cloudwatch.GraphWidget:
        alarm_at = contract.API_KEYS_PER_REGION * contract.API_KEYS_ALARM_RATIO
        return self._graph(
            f"API keys in the region (quota {contract.API_KEYS_PER_REGION:,})",
            self._metrics(contract.METRIC_API_KEYS_IN_REGION, period=ONE_HOUR, statistic="Maximum"),
            right=self._metrics(
                contract.METRIC_KEYS_ENABLED,
                contract.METRIC_KEYS_DISABLED,
                contract.METRIC_KEYS_DELETED,
                period=ONE_HOUR,
            ),
            left_annotations=[
                cloudwatch.HorizontalAnnotation(value=alarm_at, label="alarm"),
                cloudwatch.HorizontalAnnotation(value=contract.API_KEYS_PER_REGION, label="quota"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, max=contract.API_KEYS_PER_REGION),
        )

    def _webhook(self) -> cloudwatch.GraphWidget:
        return self._graph(
            "Stripe webhook deliveries by outcome",
            self._metrics(*contract.METRIC_WEBHOOK_EVENTS.values()),
            stacked=True,
        )

    def _errors(self) -> cloudwatch.GraphWidget:
        watched = self._watched
        functions = {
            title: function for title, function in watched.all_functions.items() if title != KEY_AUTHORIZER_TITLE
        }  # its failures are API 5xx (infra/monitoring.py)
        function_errors = [
            function.metric_errors(period=FIVE_MINUTES, statistic="Sum", label=f"{title} errors")
            for title, function in functions.items()
        ]
        usage = self._metrics(contract.METRIC_USAGE_REPORT_FAILURES) if watched.dead_letter_queue else []
        dead_letters = (
            [
                watched.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="usage dead letters"
                )
            ]
            if watched.dead_letter_queue
            else []
        )
        return self._graph(
            "Errors",
            [
                watched.stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum", label="API 5xx"),
                *function_errors,
                lambda_throttles(functions),
                *usage,
                *dead_letters,
                moesif_delivery_failures(watched.delivery_stream_name),
                *self._metrics(contract.METRIC_FAILED_ACCOUNTS, period=ONE_HOUR, statistic="Maximum"),
            ],
        )

    def _reconciler(self) -> cloudwatch.GraphWidget:
        return self._graph(
            "Reconciler (per run)",
            self._metrics(
                contract.METRIC_ACCOUNTS_REPAIRED,
                contract.METRIC_REPAIRS_FAILED,
                contract.METRIC_RECONCILER_RUNS_SUCCEEDED,
                contract.METRIC_RECONCILER_RUNS_INCOMPLETE,
                period=self._watched.reconcile_interval,
            ),
        )
