"""infra/billing_lifecycle.py: the accounts table, and the scheduled reconciler (issue 11, point 2): an
EventBridge Scheduler schedule every `reconcile_interval_minutes`, a function that never overlaps
itself and is not retried by Lambda, and IAM no wider than the webhook's."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tollgate import contract


def _reconciler(synth) -> tuple[str, dict]:
    ((logical_id, function),) = [
        (logical_id, f)
        for logical_id, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == contract.HANDLER_RECONCILER
    ]
    return logical_id, function


def _schedule(synth) -> dict:
    """The schedule whose target is the reconciler (the housekeeping has its own)."""
    function_id, _ = _reconciler(synth)
    (schedule,) = [
        schedule["Properties"]
        for schedule in synth.resources("AWS::Scheduler::Schedule").values()
        if schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    return schedule


def test_the_reconciler_runs_on_a_schedule_of_the_configured_interval(synth, synth_custom):
    schedule = _schedule(synth)

    assert (
        schedule["ScheduleExpression"]
        == "rate(15 minutes)"
        == f"rate({synth.settings.reconcile_interval_minutes} minutes)"
    )
    assert schedule["State"] == "ENABLED" and schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 120, "MaximumRetryAttempts": 2}
    assert _schedule(synth_custom)["ScheduleExpression"] == "rate(1 hour)"  # reconcile_interval_minutes=60


def test_runs_never_overlap_and_a_failed_run_is_left_to_the_next_one(synth):
    function_id, function = _reconciler(synth)
    (invoke_config,) = [
        config
        for config in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": function_id}
    ]

    assert function["Properties"]["Timeout"] == contract.RECONCILER_TIMEOUT_SECONDS <= 5 * 60  # the shortest interval
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0


def test_the_schedule_may_invoke_the_reconciler_and_nothing_else(synth):
    function_id, _ = _reconciler(synth)
    role_id = _schedule(synth)["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = synth.resources("AWS::IAM::Role")[role_id]["Properties"]

    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}
    assert synth.role_grants(role_id) == {"lambda:InvokeFunction": [f"<{function_id}.Arn>", f"<{function_id}.Arn>:*"]}


def test_the_reconciler_may_do_what_the_webhook_does_and_no_more(synth):
    _, function = _reconciler(synth)
    grants = synth.role_grants(function["Properties"]["Role"]["Fn::GetAtt"][0])
    plan_ids = list(synth.plan_usage_plans())
    stripe_secret_id, moesif_secret_id = synth.secret_ids()
    (accounts_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("DataAccountsTable")]
    (keys_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("KeyAuthorizerKeysTable")]
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert grants["apigateway:PATCH"] == [f"{base}/apikeys/*"]  # owner-tag conditioned (test_functions.py)
    assert grants["apigateway:POST"] == [f"{base}/usageplans/<{plan_id}>/keys" for plan_id in plan_ids]
    assert grants["apigateway:DELETE"] == [f"{base}/usageplans/<{plan_id}>/keys/*" for plan_id in plan_ids]
    assert "apigateway:GET" not in grants
    assert grants["secretsmanager:GetSecretValue"] == [f"<{stripe_secret_id}>"]
    assert f"<{moesif_secret_id}>" not in json.dumps(grants)
    assert {
        resource.split(".")[0].lstrip("<")
        for action, resources in grants.items()
        if action.startswith("dynamodb:")
        for resource in resources
    } == {accounts_id, keys_id}  # key items follow the rows it repairs


def test_accounts_table_is_keyed_by_email_with_the_lookup_indexes(synth):
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": contract.ACCOUNTS_PARTITION_KEY, "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": contract.ACCOUNTS_TTL_ATTRIBUTE, "Enabled": True},
                    "GlobalSecondaryIndexes": Match.array_with(
                        [
                            {
                                "IndexName": index,
                                "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                                "Projection": {"ProjectionType": "ALL"},
                            }
                            for index, attribute, _ in contract.ACCOUNTS_INDEXES
                        ]
                    ),
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
