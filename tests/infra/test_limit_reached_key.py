"""The "limit reached" key on the stage (infra/usage_limits.py): a usage plan that allows no call, its
one key, whose value only the authorizer is told; the reporter's grants to write limits."""

from __future__ import annotations

from infra_synth import resolve_join

from tollgate import contract


def _limit_plan(synth) -> tuple[str, dict]:
    (found,) = [
        (logical_id, plan["Properties"])
        for logical_id, plan in synth.resources("AWS::ApiGateway::UsagePlan").items()
        if resolve_join(plan["Properties"]["UsagePlanName"]).endswith("-limit-reached")
    ]
    return found


def _function(synth, handler: str) -> dict:
    (function,) = [
        f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == handler
    ]
    return function


def test_the_limit_reached_plan_allows_no_call_on_the_stage(synth):
    _, plan = _limit_plan(synth)

    assert plan["Quota"] == {"Limit": 0, "Period": "DAY"}
    assert len(plan["ApiStages"]) == 1


def test_its_one_key_is_the_value_the_authorizer_is_told_and_no_other_function(synth):
    plan_id, _ = _limit_plan(synth)
    (membership,) = [
        m["Properties"]
        for m in synth.resources("AWS::ApiGateway::UsagePlanKey").values()
        if m["Properties"]["UsagePlanId"] == {"Ref": plan_id}
    ]
    key = synth.resources("AWS::ApiGateway::ApiKey")[membership["KeyId"]["Ref"]]["Properties"]
    told = {
        function["Handler"]: function["Environment"]["Variables"].get(contract.ENV_LIMIT_REACHED_KEY)
        for function in (f["Properties"] for f in synth.resources("AWS::Lambda::Function").values())
        if "Environment" in function
    }

    assert resolve_join(key["Value"]).startswith("tollgate-limit-reached-")
    assert told.pop(contract.HANDLER_AUTHORIZER) == key["Value"]
    assert not any(told.values())
    assert {"Key": contract.API_KEY_OWNER_TAG, "Value": "Tollgate/prod"} in [
        {"Key": tag["Key"], "Value": resolve_join(tag["Value"])} for tag in key["Tags"]
    ]


def test_the_reporter_may_write_rows_and_key_items_and_call_no_api_gateway(synth):
    role = _function(synth, contract.HANDLER_USAGE_REPORTER)["Role"]["Fn::GetAtt"][0]
    grants = synth.role_grants(role)

    assert any(resource.endswith(".Arn>") and "Accounts" in resource for resource in grants["dynamodb:UpdateItem"])
    assert any("KeysTable" in resource for resource in grants["dynamodb:UpdateItem"])
    assert not any(action.startswith("apigateway:") for action in grants)


def test_a_deployment_that_counts_no_usage_has_no_limit_reached_key(synth_custom):
    assert not [
        plan
        for plan in synth_custom.resources("AWS::ApiGateway::UsagePlan").values()
        if resolve_join(plan["Properties"]["UsagePlanName"]).endswith("-limit-reached")
    ]
