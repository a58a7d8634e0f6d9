"""infra/operations.py: the scheduled housekeeping (issue 14, key hygiene; infra/housekeeping.py):
hourly, never retried by Lambda, told the retention, and allowed to delete this deployment's keys, count the region's keys
and scan/write the accounts table; nothing else."""

from __future__ import annotations

from tollgate import contract


def _housekeeping(synth) -> tuple[str, dict]:
    ((logical_id, function),) = [
        (logical_id, f)
        for logical_id, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == contract.HANDLER_HOUSEKEEPING
    ]
    return logical_id, function


def test_the_housekeeping_runs_every_hour_and_a_failed_run_is_left_to_the_next(synth):
    function_id, function = _housekeeping(synth)
    (schedule,) = [
        s["Properties"]
        for s in synth.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    (invoke_config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]

    assert schedule["ScheduleExpression"] == "rate(1 hour)" and schedule["State"] == "ENABLED"
    assert invoke_config["MaximumRetryAttempts"] == 0
    assert function["Properties"]["Timeout"] == contract.HOUSEKEEPING_TIMEOUT_SECONDS
    assert function["Properties"]["FunctionName"] == "Tollgate-prod-housekeeping"


def test_the_retention_setting_and_the_stage_reach_every_function(synth):
    for function in synth.resources("AWS::Lambda::Function").values():
        if function["Properties"]["Handler"].startswith("tollgate.") and "Environment" in function["Properties"]:
            variables = function["Properties"]["Environment"]["Variables"]
            if contract.ENV_KEY_OWNER in variables:
                assert variables[contract.ENV_CANCELED_KEY_RETENTION_DAYS] == "30"
                assert variables[contract.ENV_STAGE] == "prod"


def test_the_housekeeping_may_delete_owned_keys_count_keys_make_pools_and_keep_the_accounts_table_and_no_more(synth):
    _, function = _housekeeping(synth)
    grants = synth.role_grants(function["Properties"]["Role"]["Fn::GetAtt"][0])
    (accounts_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("DataAccountsTable")]
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert grants["apigateway:DELETE"] == [f"{base}/apikeys/*"]  # owner-tag conditioned (test_functions.py)
    # The listing, to count and to find the pools' keys by name; an owned key's value (a shard key not recorded).
    assert sorted(grants["apigateway:GET"]) == [f"{base}/apikeys", f"{base}/apikeys/*"]
    # The pools' keys: created with the owner tag, added to this deployment's usage plans (test_iam_scoping.py).
    assert f"{base}/apikeys" in grants["apigateway:POST"] and "apigateway:PATCH" not in grants
    (keys_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("KeyAuthorizerKeysTable")]
    assert grants["dynamodb:Scan"] == grants["dynamodb:PutItem"] == [f"<{accounts_id}.Arn>"]
    assert (
        sorted(grants["dynamodb:GetItem"])
        == sorted(grants["dynamodb:UpdateItem"])
        == sorted([f"<{keys_id}.Arn>", f"<{accounts_id}.Arn>"])
    )  # (the accounts table's: the pools' items)
    assert {action.split(":")[0] for action in grants} == {"apigateway", "dynamodb", "logs", "xray"}
