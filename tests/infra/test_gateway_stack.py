"""infra/gateway.py (test_gateway_stack: tests/localdev/test_gateway.py is make dev's gateway's).
Issue 3, point 1: REST API, metered routes, public routes (no CORS), validation, usage plan. The
WAF's rules are tests/infra/test_waf.py's."""

import json

from infra_synth import resolve_join

from infra import gateway_errors
from infra.plan_settings import POOLED_THROTTLE_ACCOUNTS
from tollgate import contract


def _site_url(synth) -> str:
    """The signup site's origin, as the template names it."""
    (distribution_id,) = synth.resources("AWS::CloudFront::Distribution")
    return f"https://<{distribution_id}.DomainName>"


def _resource_ids_by_path(synth) -> dict[str, str]:
    resources = synth.resources("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    for logical_id in resources:
        paths[path_of(logical_id)] = logical_id
    return paths


def _method(synth, path: str, http_method: str) -> dict:
    matches = []
    for method in synth.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        resource = props["ResourceId"]
        at_root = "Fn::GetAtt" in resource
        if props["HttpMethod"] != http_method:
            continue
        if (path == "/" and at_root) or (not at_root and resource["Ref"] == _resource_ids_by_path(synth).get(path)):
            matches.append(props)
    assert len(matches) == 1, (path, http_method, matches)
    return matches[0]


def test_metered_routes_require_an_api_key(synth):
    for path in ("/", "/{proxy+}"):
        assert _method(synth, path, "ANY")["ApiKeyRequired"] is True


def test_public_routes_require_no_api_key(synth):
    for route in contract.PUBLIC_ROUTES:
        assert _method(synth, route, "POST").get("ApiKeyRequired", False) is False


def test_sample_backend_serves_metered_routes_when_no_backend_url(synth):
    integration = _method(synth, "/{proxy+}", "ANY")["Integration"]

    assert integration["Type"] == "HTTP_PROXY"  # its function URL, like any backend_url (test_backend.py)
    assert "FunctionsSampleBackend" in json.dumps(integration["Uri"])


def test_backend_url_is_proxied_over_http_with_the_path(synth_custom):
    proxy = _method(synth_custom, "/{proxy+}", "ANY")
    root = _method(synth_custom, "/", "ANY")

    assert proxy["Integration"]["Type"] == "HTTP_PROXY"
    assert proxy["Integration"]["Uri"] == "https://backend.example.com/v1/{proxy}"
    assert proxy["Integration"]["RequestParameters"]["integration.request.path.proxy"] == "method.request.path.proxy"
    assert root["Integration"]["Uri"] == "https://backend.example.com/v1/"
    assert not synth_custom.template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": contract.HANDLER_SAMPLE_BACKEND}}
    )


def test_no_route_answers_a_cors_preflight(synth):
    """The signup page calls its own origin (`/api/...` through CloudFront): no OPTIONS method anywhere."""
    methods = synth.resources("AWS::ApiGateway::Method").values()
    assert not [method for method in methods if method["Properties"]["HttpMethod"] == "OPTIONS"]


def test_gateway_errors_carry_the_project_error_shape_and_no_cors_header(synth):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }

    assert {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "THROTTLED", "QUOTA_EXCEEDED"} <= set(responses)
    for props in responses.values():
        assert not [name for name in props["ResponseParameters"] if "access-control-" in name.lower()]
        assert resolve_join(props["ResponseTemplates"]["application/json"]).startswith('{"error": ')
    bad_body = json.loads(responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"])
    assert bad_body["fields"] and responses["BAD_REQUEST_BODY"]["StatusCode"] == "400"
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_gateway_errors_are_the_ones_make_dev_renders(synth):
    """One source (infra/gateway_errors.py): the stage's templates and headers are what localdev answers."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }

    assert {
        name: resolve_join(props["ResponseTemplates"]["application/json"]) for name, props in responses.items()
    } == {name: template for name, (_, template) in gateway_errors.gateway_errors(_site_url(synth)).items()}
    expected_headers = {
        f"gatewayresponse.header.{name}": f"'{value}'" for name, value in gateway_errors.gateway_error_headers().items()
    }
    for props in responses.values():
        headers = {name: resolve_join(value) for name, value in props["ResponseParameters"].items()}
        assert headers == expected_headers
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
    assert json.loads(gateway_errors.render("INVALID_API_KEY", 403, "Forbidden", "https://site")) == {
        "error": "Forbidden"
    }


def test_a_key_past_its_quota_is_told_where_to_see_its_plan_and_upgrade(synth):
    """The stage's QUOTA_EXCEEDED body links the site's account page and names the account through
    the key authorizer's $context.authorizer.principalId, never the usage key (no variable names the
    usage plan: see gateway_errors)."""
    (quota,) = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "QUOTA_EXCEEDED"
    ]
    body = json.loads(resolve_join(quota["ResponseTemplates"]["application/json"]))
    assert quota["StatusCode"] == "429"
    assert body["accountUrl"] == f"{_site_url(synth)}/{contract.ACCOUNT_PAGE}"
    assert body["accountId"] == "$context.authorizer.principalId"
    assert "apiKeyId" not in body and "$context.identity" not in resolve_join(
        quota["ResponseTemplates"]["application/json"]
    )
    # why (the message and code of the limit the authorizer answered) and until when: issue 20/21
    assert (body["error"], body["code"], body["until"]) == (
        "$context.authorizer.usageLimitMessage",
        "$context.authorizer.usageLimit",
        "$context.authorizer.usageLimitUntil",
    )


def test_register_validates_the_body_against_a_flat_json_model(synth):
    method = _method(synth, contract.ROUTE_REGISTER, "POST")
    (validator,) = synth.resources("AWS::ApiGateway::RequestValidator").values()
    (model,) = synth.resources("AWS::ApiGateway::Model").values()

    assert validator["Properties"]["ValidateRequestBody"] is True
    assert method["RequestValidatorId"] and "application/json" in method["RequestModels"]
    schema = model["Properties"]["Schema"]
    assert schema["type"] == "object"
    assert {field: spec["type"] for field, spec in schema["properties"].items()} == {
        "email": "string", "firstname": "string", "lastname": "string",
    }  # fmt: skip
    assert "required" not in schema  # missing fields get the Lambda's detailed 400, naming the field
    assert not {"object", "array"} & set(schema["additionalProperties"]["type"])  # nested: 400 at any depth
    assert schema == gateway_errors.REGISTER_BODY_MODEL  # the model the local gateway applies too
    assert list(method["RequestModels"]) == [gateway_errors.REGISTER_BODY_CONTENT_TYPE]


def test_the_sites_register_route_is_checked_by_the_same_validator_and_model(synth):
    """POST /api/register (the signup page's, on its own origin) has /register's contract: the same body check."""
    api, site = _method(synth, contract.ROUTE_REGISTER, "POST"), _method(synth, contract.ROUTE_SITE_REGISTER, "POST")

    assert site["RequestValidatorId"] == api["RequestValidatorId"]
    assert site["RequestModels"] == api["RequestModels"]
    assert site["Integration"] == api["Integration"]  # the register function


def _method_throttles(synth) -> dict[str, tuple[float, int]]:
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    return {
        setting["ResourcePath"].removeprefix("/").replace("~1", "/") + " " + setting["HttpMethod"]: (
            setting["ThrottlingRateLimit"],
            setting["ThrottlingBurstLimit"],
        )
        for setting in stage["Properties"]["MethodSettings"]
        if "ThrottlingRateLimit" in setting
    }


def test_no_throttle_unsigned_junk_can_use_up_stands_in_front_of_the_webhook(synth):
    """Issue 11, point 2: the webhook has no method throttle of its own; only the stage's high
    backstop applies to it, which per-IP WAF rules keep junk far away from."""
    throttles = _method_throttles(synth)
    settings = synth.settings

    assert throttles == {
        "* *": (settings.stage_rate_limit, settings.stage_burst_limit),  # the backstop, every route
        f"{contract.ROUTE_REGISTER} POST": (settings.register_rate_limit, settings.register_burst_limit),
        f"{contract.ROUTE_CHECKOUT} POST": (settings.register_rate_limit, settings.register_burst_limit),
        f"{contract.ROUTE_CHECKOUT_OUTCOME} POST": (settings.register_rate_limit, settings.register_burst_limit),
        # Issue 12: every route of the signup site's account API, the sign-up confirmation as costly as /register.
        **{
            f"{route} {method}": (settings.register_rate_limit, settings.register_burst_limit)
            for route, method in contract.SITE_ROUTES.items()
        },
    }
    assert settings.stage_rate_limit >= 100 * settings.register_rate_limit


def test_sign_up_and_checkout_throttles_cap_their_functions_but_are_not_shared_with_the_webhook(synth):
    throttles = _method_throttles(synth)

    assert not any(contract.ROUTE_STRIPE_WEBHOOK in route for route in throttles)
    assert throttles[f"{contract.ROUTE_REGISTER} POST"][0] >= 10  # one client at 2/s no longer blocks everyone


def test_each_plan_has_a_usage_plan_on_the_stage_with_its_throttle_and_quota(synth):
    """A paid plan's keys are one account's each: the plan's throttle and quota. The free plan is pooled
    (free_pool_size): its keys are shards, throttled for POOLED_THROTTLE_ACCOUNTS accounts at the plan's
    rate, with no API Gateway quota (it would be the shard's; Tollgate counts each account's)."""
    (stage_id,) = synth.resources("AWS::ApiGateway::Stage")
    usage_plans = synth.plan_usage_plans()

    assert len(usage_plans) == len(synth.settings.plans) == 2
    assert synth.settings.free_pool_size > 0
    for plan in synth.settings.plans:
        (usage_plan,) = [
            resource["Properties"]
            for resource in usage_plans.values()
            if resource["Properties"]["UsagePlanName"].endswith(f"-{plan.id}")
        ]
        assert [stage["Stage"] for stage in usage_plan["ApiStages"]] == [{"Ref": stage_id}]
        accounts = POOLED_THROTTLE_ACCOUNTS if plan.is_free else 1
        assert usage_plan["Throttle"] == {
            "RateLimit": plan.throttle_rate_limit * accounts,
            "BurstLimit": plan.throttle_burst_limit * accounts,
        }
        assert usage_plan.get("Quota") == (
            None if plan.is_free else {"Limit": plan.quota_limit, "Period": plan.quota_period}
        )


def test_the_flat_settings_plan_keeps_the_usage_plan_of_earlier_versions(synth, synth_custom):
    """Its logical id is the one before plans existed (so an upgrade replaces nothing and its keys stay
    on it); the shipped cdk.json's paid plan has that id too."""
    for synthesized in (synth, synth_custom):
        standard = [
            logical_id
            for logical_id, resource in synthesized.plan_usage_plans().items()
            if resource["Properties"]["UsagePlanName"].endswith("-standard")
        ]
        assert len(standard) == 1 and standard[0].startswith("ApiRestApiUsagePlan")
        assert not standard[0].startswith("ApiRestApiUsagePlanstandard")
