"""Issue 14: the alarms (infra/monitoring.py), their encrypted topic, and the dashboard (infra/dashboard.py):
every alarm with its metric, threshold, description and SNS actions; every business metric they and the
dashboard read is one the Lambda code emits, by its tollgate.contract name."""

from __future__ import annotations

import ast
import json

import pytest
from infra_synth import REPO_ROOT, resolve_join

from tollgate import contract

DEPLOYMENT = "Tollgate/prod"
GTE, LT = "GreaterThanOrEqualToThreshold", "LessThanThreshold"
# alarm title -> (namespace, metric or None for metric math, statistic, period, threshold, comparison,
#                 evaluation periods, missing data)
EXPECTED_ALARMS = {
    "register function errors": ("AWS/Lambda", "Errors", "Sum", 300, 1, GTE, 1, "notBreaching"),
    "checkout function errors": ("AWS/Lambda", "Errors", "Sum", 300, 1, GTE, 1, "notBreaching"),
    "Stripe webhook function errors": ("AWS/Lambda", "Errors", "Sum", 300, 1, GTE, 1, "notBreaching"),
    "account function errors": ("AWS/Lambda", "Errors", "Sum", 300, 1, GTE, 1, "notBreaching"),
    "API 5xx": ("AWS/ApiGateway", "5XXError", "Sum", 300, 5, GTE, 1, "notBreaching"),
    "Lambda throttles": (None, None, None, None, 1, GTE, 1, "notBreaching"),
    "failed sign-ups left behind": (
        "Tollgate",
        contract.METRIC_FAILED_ACCOUNTS,
        "Maximum",
        3600,
        1,
        GTE,
        1,
        "notBreaching",
    ),
    "reconciler not running": (
        "Tollgate",
        contract.METRIC_RECONCILER_RUNS_SUCCEEDED,
        "SampleCount",
        900,
        1,
        LT,
        2,
        "breaching",
    ),
    "orphan subscriptions canceled": (
        "Tollgate",
        contract.METRIC_ORPHAN_SUBSCRIPTIONS_CANCELED,
        "Sum",
        3600,
        1,
        GTE,
        1,
        "notBreaching",
    ),
    "Moesif delivery failing": (None, None, None, None, 1, GTE, 2, "notBreaching"),
    "webhook signatures rejected": (
        "Tollgate",
        contract.METRIC_WEBHOOK_EVENTS["rejected_signature"],
        "Sum",
        3600,
        10,
        GTE,
        1,
        "notBreaching",
    ),
    "billing portal not set up": (
        "Tollgate",
        contract.METRIC_BILLING_PORTAL_NOT_SET_UP,
        "Sum",
        300,
        1,
        GTE,
        1,
        "notBreaching",
    ),
    "usage report failing": ("Tollgate", contract.METRIC_USAGE_REPORT_FAILURES, "Sum", 300, 1, GTE, 1, "notBreaching"),
    "usage dead-lettered": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300, 1, GTE, 1, "notBreaching"),
    "API keys near the regional quota": (
        "Tollgate",
        contract.METRIC_API_KEYS_IN_REGION,
        "Maximum",
        3600,
        8000,
        GTE,
        1,
        "notBreaching",
    ),
    "housekeeping not running": (
        "Tollgate",
        contract.METRIC_API_KEYS_IN_REGION,
        "SampleCount",
        3600,
        1,
        LT,
        2,
        "breaching",
    ),
    "sign-ups per hour": ("Tollgate", contract.METRIC_SIGNUPS_REQUESTED, "Sum", 3600, 100, GTE, 1, "notBreaching"),
}


def alarms(synth) -> dict[str, dict]:
    return {
        alarm["Properties"]["AlarmName"].split(contract.ALARM_NAME_SEPARATOR, 1)[1]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def topic_id(synth) -> str:
    (topic,) = synth.resources("AWS::SNS::Topic")
    return topic


def test_every_alarm_exists_with_its_metric_threshold_and_sns_actions(synth):
    found = alarms(synth)

    assert set(found) == set(EXPECTED_ALARMS)
    for title, (
        namespace,
        metric,
        statistic,
        period,
        threshold,
        comparison,
        periods,
        missing,
    ) in EXPECTED_ALARMS.items():
        alarm = found[title]
        assert alarm["AlarmName"] == f"{DEPLOYMENT}{contract.ALARM_NAME_SEPARATOR}{title}"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (threshold, comparison), title
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (
            periods,
            periods,
            missing,
        ), title
        if metric is not None:
            assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
                namespace,
                metric,
                statistic,
                period,
            ), title
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id(synth)}], title


@pytest.mark.parametrize("title", sorted(EXPECTED_ALARMS))
def test_every_alarm_says_what_it_means_and_what_to_do_first(synth, title):
    description = resolve_join(alarms(synth)[title]["AlarmDescription"])

    assert "First:" in description and len(description.split("First:")[0]) > 60, description


def test_the_business_metrics_alarms_watch_are_this_stages(synth):
    for title, alarm in alarms(synth).items():
        if alarm.get("Namespace") == contract.METRICS_NAMESPACE:
            assert alarm["Dimensions"] == [{"Name": contract.METRICS_STAGE_DIMENSION, "Value": "prod"}], title


def test_the_heartbeat_follows_the_reconcile_interval_and_settings_move_the_thresholds(synth_custom):
    custom = alarms(synth_custom)

    assert custom["reconciler not running"]["Period"] == 3600  # reconcile_interval_minutes=60
    assert custom["sign-ups per hour"]["Threshold"] == 500
    # verify_email=false: every request starts a sign-up (the default counts requests, links or not)
    assert custom["sign-ups per hour"]["MetricName"] == contract.METRIC_SIGNUPS_STARTED
    assert custom["webhook signatures rejected"]["Threshold"] == 3
    assert "usage report failing" not in custom and "usage dead-lettered" not in custom  # usage_reporter=moesif


def test_moesif_delivery_failures_are_firehose_attempts_minus_deliveries(synth):
    alarm = alarms(synth)["Moesif delivery failing"]
    expression, *inputs = alarm["Metrics"]
    (stream_id,) = synth.resources("AWS::KinesisFirehose::DeliveryStream")

    assert expression["Expression"] == "FILL(attempted, 0) - FILL(delivered, 0)" and expression["ReturnData"]
    names = {entry["Id"]: entry["MetricStat"]["Metric"] for entry in inputs}
    assert {name: metric["MetricName"] for name, metric in names.items()} == {
        "attempted": "DeliveryToHttpEndpoint.ProcessedRecords",
        "delivered": "DeliveryToHttpEndpoint.Records",
    }
    for metric in names.values():
        assert metric["Namespace"] == "AWS/Firehose"
        assert metric["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": {"Ref": stream_id}}]


def test_throttles_are_watched_on_every_tollgate_function(synth):
    alarm = alarms(synth)["Lambda throttles"]
    watched = {
        entry["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for entry in alarm["Metrics"]
        if "MetricStat" in entry
    }
    functions = {
        logical_id
        for logical_id, function in synth.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"].startswith("tollgate.")
    }

    assert watched == functions


def test_the_topic_is_encrypted_ssl_only_and_only_this_deployments_alarms_may_use_it(synth):
    (topic,) = synth.resources("AWS::SNS::Topic").values()
    ((key_id, key),) = synth.resources("AWS::KMS::Key").items()
    (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    for statements_of in (statements, key["Properties"]["KeyPolicy"]["Statement"]):
        (cloudwatch,) = [s for s in statements_of if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert set(cloudwatch["Condition"]) == {"StringEquals", "ArnLike"}
        assert resolve_join(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(f":alarm:{DEPLOYMENT}*")


def test_alarm_email_subscribes_an_address_and_without_it_the_topic_has_none(synth, synth_custom):
    (subscription,) = synth_custom.resources("AWS::SNS::Subscription").values()

    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email",
        "ops@example.com",
    )
    assert synth.resources("AWS::SNS::Subscription") == {}
    assert "AlarmTopicArn" in synth.json["Outputs"]


def _dashboard_metrics(synth) -> list[list]:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(resolve_join(dashboard["Properties"]["DashboardBody"]))
    return [metric for widget in body["widgets"] for metric in widget["properties"].get("metrics", [])]


def _emitted_by_the_lambda_code() -> set[str]:
    """Every contract.METRIC_* name the runtime code refers to (outside tollgate/contract/); a dict of
    names counts whole (the key is chosen at run time: reasons, outcomes)."""
    referenced = set()
    for path in (REPO_ROOT / "lambda_src" / "tollgate").rglob("*.py"):
        if "contract" in path.relative_to(REPO_ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("METRIC_")
                and isinstance(node.value, ast.Name)
                and node.value.id == "contract"
            ):
                referenced.add(node.attr)
    names = set()
    for constant in referenced:
        value = getattr(contract, constant)
        names |= set(value.values()) if isinstance(value, dict) else {value}
    return names


def test_the_dashboard_shows_the_figures_the_issue_names_and_only_metrics_the_code_emits(synth):
    metrics = _dashboard_metrics(synth)
    business = {metric[1] for metric in metrics if metric[0] == contract.METRICS_NAMESPACE}

    assert business <= _emitted_by_the_lambda_code(), business - _emitted_by_the_lambda_code()
    assert {
        contract.METRIC_SIGNUPS_REQUESTED,
        contract.METRIC_SIGNUPS_CONFIRMED,
        contract.METRIC_BILLABLE_CALLS,
        contract.METRIC_USAGE_UNITS_REPORTED,
        contract.METRIC_API_KEYS_IN_REGION,
        *contract.METRIC_WEBHOOK_EVENTS.values(),
    } <= business
    for metric in metrics:
        if metric[0] == contract.METRICS_NAMESPACE:
            assert metric[2:4] == [contract.METRICS_STAGE_DIMENSION, "prod"], metric
    # CloudWatch's free tier: 3 dashboards of up to 50 metrics (math expressions are not metrics)
    assert sum(1 for metric in metrics if isinstance(metric[0], str)) <= 50


def test_every_business_metric_an_alarm_reads_is_emitted_by_the_code(synth):
    read = {
        alarm["MetricName"] for alarm in alarms(synth).values() if alarm.get("Namespace") == contract.METRICS_NAMESPACE
    }

    assert read <= _emitted_by_the_lambda_code()


def test_the_dashboard_is_a_setting(synth, synth_custom):
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == 1 and "DashboardUrl" in synth.json["Outputs"]
    assert synth_custom.resources("AWS::CloudWatch::Dashboard") == {}  # enable_dashboard=false


def test_the_metric_names_are_unique():
    names = [value for name, value in vars(contract).items() if name.startswith("METRIC_") and isinstance(value, str)]
    names += [
        value
        for name, value in vars(contract).items()
        if name.startswith("METRIC_") and isinstance(value, dict)
        for value in value.values()
    ]
    assert len(names) == len(set(names))
