"""The key authorizer on the stage (infra/authorizer.py, infra/gateway.py): the keys table, the authorizer
function and its least privilege, the REQUEST authorizer on every metered method and only there, the
key source, the cache TTL setting, the refusals' bodies."""

from __future__ import annotations

import json

from tollgate import contract

METERED_PATHS = ("/", contract.ROUTE_METERED_PROXY)


def _authorizer_function(synth) -> tuple[str, dict]:
    (found,) = [
        (logical_id, function)
        for logical_id, function in synth.resources("AWS::Lambda::Function").items()
        if function["Properties"].get("Handler") == contract.HANDLER_AUTHORIZER
    ]
    return found


def _keys_table_id(synth) -> str:
    (table_id,) = [
        logical_id
        for logical_id, table in synth.resources("AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"] == [{"AttributeName": contract.KEYS_PARTITION_KEY, "KeyType": "HASH"}]
    ]
    return table_id


def _methods_by_path(synth) -> dict[tuple[str, str], dict]:
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(reference: dict) -> str:
        if "Fn::GetAtt" in reference:  # the root resource
            return "/"
        resource = resources[reference["Ref"]]["Properties"]
        return path_of(resource["ParentId"]).rstrip("/") + "/" + resource["PathPart"]

    return {
        (path_of(method["Properties"]["ResourceId"]), method["Properties"]["HttpMethod"]): method["Properties"]
        for method in synth.resources("AWS::ApiGateway::Method").values()
    }


def test_the_keys_table_is_kept_like_the_accounts_table_and_expires_ended_keys(synth):
    table = synth.resources("AWS::DynamoDB::Table")[_keys_table_id(synth)]
    properties = table["Properties"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": contract.KEYS_TTL_ATTRIBUTE, "Enabled": True}
    assert properties["DeletionProtectionEnabled"] is True and table["DeletionPolicy"] == "Retain"
    assert "GlobalSecondaryIndexes" not in properties  # one read by hash: nothing else is looked up


def test_the_authorizer_may_read_a_key_item_and_nothing_else(synth):
    _, function = _authorizer_function(synth)
    grants = synth.role_grants(function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert grants["dynamodb:GetItem"] == [f"<{_keys_table_id(synth)}.Arn>"]
    assert set(grants) <= {
        "dynamodb:GetItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    environment = function["Properties"]["Environment"]["Variables"]
    assert environment[contract.ENV_KEYS_TABLE] == {"Ref": _keys_table_id(synth)}
    # no secret, no plan; the "limit reached" key's value is no credential (infra/usage_limits.py)
    assert set(environment) <= {contract.ENV_KEYS_TABLE, "POWERTOOLS_SERVICE_NAME", contract.ENV_LIMIT_REACHED_KEY}


def test_every_metered_method_runs_the_request_authorizer_on_x_api_key_cached_for_the_setting(synth, synth_custom):
    for deployment, ttl in ((synth, contract.DEFAULT_AUTHORIZER_CACHE_SECONDS), (synth_custom, 900)):
        ((authorizer_id, authorizer),) = deployment.resources("AWS::ApiGateway::Authorizer").items()
        assert authorizer["Properties"]["Type"] == "REQUEST"
        assert authorizer["Properties"]["IdentitySource"] == f"method.request.header.{contract.API_KEY_HEADER}"
        assert authorizer["Properties"]["AuthorizerResultTtlInSeconds"] == ttl
        methods = _methods_by_path(deployment)
        for path in METERED_PATHS:
            method = methods[path, "ANY"]
            assert method["AuthorizationType"] == "CUSTOM" and method["AuthorizerId"] == {"Ref": authorizer_id}
            assert method["ApiKeyRequired"] is True  # the usage plan counts the authorizer's usage key
        others = [key for key, method in methods.items() if key[0] not in METERED_PATHS]
        assert others and all(methods[key].get("AuthorizationType", "NONE") == "NONE" for key in others)


def test_the_usage_plans_count_the_key_the_authorizer_returns(synth):
    (api,) = synth.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"


def test_a_refused_key_gets_the_403_a_bad_key_always_got(synth):
    responses = {
        response["Properties"]["ResponseType"]: response["Properties"]
        for response in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in ("UNAUTHORIZED", "ACCESS_DENIED"):
        assert responses[response_type]["StatusCode"] == "403"
        assert json.loads(responses[response_type]["ResponseTemplates"]["application/json"]) == {"error": "Forbidden"}


def test_the_functions_are_told_the_keys_table_and_the_key_prefix(synth, synth_custom):
    for deployment, prefix in ((synth, contract.DEFAULT_KEY_PREFIX), (synth_custom, "acme")):
        for function in deployment.resources("AWS::Lambda::Function").values():
            handler = function["Properties"].get("Handler", "")
            if handler in (contract.HANDLER_REGISTER, contract.HANDLER_ACCOUNT):
                environment = function["Properties"]["Environment"]["Variables"]
                assert environment[contract.ENV_KEYS_TABLE] == {"Ref": _keys_table_id(deployment)}
                assert environment[contract.ENV_KEY_PREFIX] == prefix
