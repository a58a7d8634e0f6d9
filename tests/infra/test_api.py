"""Issue 3, point 1: REST API, metered routes, public routes, CORS, validation, usage plan."""

import json

from aws_cdk.assertions import Match

from infra import gateway_errors
from infra.waf import EVALUATION_WINDOW_SECONDS, TOO_MANY_MESSAGE
from tollgate import contract

from infra_synth import resolve_join

SITE_ORIGIN = "'https://<{}.DomainName>'"


def _site_origin(synth) -> str:
    """As a gateway response header value (quoted)."""
    (distribution_id,) = synth.resources("AWS::CloudFront::Distribution")
    return SITE_ORIGIN.format(distribution_id)


def _site_url(synth) -> str:
    return _site_origin(synth).strip("'")


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


def test_cors_preflight_allows_only_the_signup_distribution_origin(synth):
    for route in contract.CORS_ROUTES:
        params = _method(synth, route, "OPTIONS")["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        origin = resolve_join(params["method.response.header.Access-Control-Allow-Origin"])

        assert origin == _site_origin(synth)
        assert "*" not in origin
        allowed = params["method.response.header.Access-Control-Allow-Headers"]
        assert allowed == "'" + ",".join(contract.CORS_ALLOWED_HEADERS) + "'"  # what the handlers answer too


def test_stripe_webhook_has_no_cors_preflight(synth):
    options = [
        m for m in synth.resources("AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert len(options) == len(contract.CORS_ROUTES) == 3  # /register, /billing/checkout and its outcome only


def test_gateway_errors_carry_the_site_origin_and_the_project_error_shape(synth):
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()}

    assert {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "THROTTLED", "QUOTA_EXCEEDED"} <= set(responses)
    for props in responses.values():
        assert resolve_join(props["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]) == _site_origin(synth)
        assert resolve_join(props["ResponseTemplates"]["application/json"]).startswith('{"error": ')
    bad_body = json.loads(responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"])
    assert bad_body["fields"] and responses["BAD_REQUEST_BODY"]["StatusCode"] == "400"
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_gateway_errors_are_the_ones_make_dev_renders(synth):
    """One source (infra/gateway_errors.py): the stage's templates and headers are what localdev answers."""
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()}

    assert {name: resolve_join(props["ResponseTemplates"]["application/json"]) for name, props in responses.items()} == {
        name: template for name, (_, template) in gateway_errors.gateway_errors(_site_url(synth)).items()
    }
    expected_headers = {f"gatewayresponse.header.{name}": f"'{value}'"
                        for name, value in gateway_errors.gateway_error_headers("<site origin>").items()}
    for props in responses.values():
        headers = {name: resolve_join(value) for name, value in props["ResponseParameters"].items()}
        assert headers == expected_headers | {
            "gatewayresponse.header.Access-Control-Allow-Origin": _site_origin(synth)}
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
    assert json.loads(gateway_errors.render("INVALID_API_KEY", 403, "Forbidden", "https://site")) == {"error": "Forbidden"}


def test_a_key_past_its_quota_is_told_where_to_see_its_plan_and_upgrade(synth):
    """The stage's QUOTA_EXCEEDED body links the site's account page and names the key through
    API Gateway's $context.identity.apiKeyId (no variable names the usage plan: see gateway_errors)."""
    (quota,) = [r["Properties"] for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
                if r["Properties"]["ResponseType"] == "QUOTA_EXCEEDED"]
    body = json.loads(resolve_join(quota["ResponseTemplates"]["application/json"]))
    assert quota["StatusCode"] == "429"
    assert body["accountUrl"] == f"{_site_url(synth)}/{contract.ACCOUNT_PAGE}"
    assert body["apiKeyId"] == "$context.identity.apiKeyId"
    assert "see your plan and upgrade" in body["error"]


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


def _method_throttles(synth) -> dict[str, tuple[float, int]]:
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    return {
        setting["ResourcePath"].removeprefix("/").replace("~1", "/") + " " + setting["HttpMethod"]:
            (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"])
        for setting in stage["Properties"]["MethodSettings"] if "ThrottlingRateLimit" in setting
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
        **{f"{route} {method}": (settings.register_rate_limit, settings.register_burst_limit)
           for route, method in contract.SITE_ROUTES.items()},
    }
    assert settings.stage_rate_limit >= 100 * settings.register_rate_limit


def test_sign_up_and_checkout_throttles_cap_their_functions_but_are_not_shared_with_the_webhook(synth):
    throttles = _method_throttles(synth)

    assert not any(contract.ROUTE_STRIPE_WEBHOOK in route for route in throttles)
    assert throttles[f"{contract.ROUTE_REGISTER} POST"][0] >= 10  # one client at 2/s no longer blocks everyone


def test_each_plan_has_a_usage_plan_on_the_stage_with_its_throttle_and_quota(synth):
    (stage_id,) = synth.resources("AWS::ApiGateway::Stage")
    usage_plans = synth.resources("AWS::ApiGateway::UsagePlan")

    assert len(usage_plans) == len(synth.settings.plans) == 2
    for plan in synth.settings.plans:
        (usage_plan,) = [resource["Properties"] for resource in usage_plans.values()
                         if resource["Properties"]["UsagePlanName"].endswith(f"-{plan.id}")]
        assert [stage["Stage"] for stage in usage_plan["ApiStages"]] == [{"Ref": stage_id}]
        assert usage_plan["Throttle"] == {"RateLimit": plan.throttle_rate_limit, "BurstLimit": plan.throttle_burst_limit}
        assert usage_plan["Quota"] == {"Limit": plan.quota_limit, "Period": plan.quota_period}


def test_the_flat_settings_plan_keeps_the_usage_plan_of_earlier_versions(synth, synth_custom):
    """Its logical id is the one before plans existed (so an upgrade replaces nothing and its keys stay
    on it); the shipped cdk.json's paid plan has that id too."""
    for synthesized in (synth, synth_custom):
        standard = [logical_id for logical_id, resource in synthesized.resources("AWS::ApiGateway::UsagePlan").items()
                    if resource["Properties"]["UsagePlanName"].endswith("-standard")]
        assert len(standard) == 1 and standard[0].startswith("ApiRestApiUsagePlan")
        assert not standard[0].startswith("ApiRestApiUsagePlanstandard")


def _rules(synth) -> dict[str, dict]:
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def test_waf_per_ip_rules_are_on_by_default_and_scoped_to_the_unauthenticated_paths(synth):
    rules = _rules(synth)
    stage = synth.settings.stage_name

    signup = rules["SignUpAndCheckoutPerIp"]["Statement"]["RateBasedStatement"]
    assert (signup["AggregateKeyType"], signup["Limit"]) == ("IP", synth.settings.signup_requests_per_ip)
    assert signup["EvaluationWindowSec"] == EVALUATION_WINDOW_SECONDS
    paths = {match["SearchString"] for match in json_find(signup["ScopeDownStatement"], "ByteMatchStatement")}
    assert paths == {f"/{stage}{route}" for route in contract.CORS_ROUTES} | set(contract.CORS_ROUTES)

    webhook = rules["WebhookPerIpExceptStripe"]["Statement"]["RateBasedStatement"]
    assert (webhook["AggregateKeyType"], webhook["Limit"]) == ("IP", synth.settings.webhook_requests_per_ip)
    scope = json.dumps(webhook["ScopeDownStatement"])
    assert contract.ROUTE_STRIPE_WEBHOOK in scope and "NotStatement" in scope and "IPSetReferenceStatement" in scope
    (ip_set,) = synth.resources("AWS::WAFv2::IPSet").values()
    assert ip_set["Properties"]["Addresses"] == [f"{ip}/32" for ip in synth.settings.stripe_webhook_ips]
    assert len(ip_set["Properties"]["Addresses"]) >= 12  # Stripe's published webhook IPs

    metered = rules.keys() - {"SignUpAndCheckoutPerIp", "WebhookPerIpExceptStripe", "AWSManagedRulesCommonRuleSet",
                              "SiteApiOnlyThroughCloudFront", "SiteSignInPerViewerIp"}  # /api/*: test_customer_accounts
    assert not metered  # metered routes are limited per key by usage plans, never per IP


def test_a_blocked_sign_up_gets_a_429_the_signup_page_can_read(synth):
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    response = _rules(synth)["SignUpAndCheckoutPerIp"]["Action"]["Block"]["CustomResponse"]
    headers = {header["Name"]: header["Value"] for header in response["ResponseHeaders"]}

    assert response["ResponseCode"] == 429
    assert resolve_join(headers["Access-Control-Allow-Origin"]) == _site_origin(synth).strip("'")
    body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert json.loads(body["Content"]) == {"error": TOO_MANY_MESSAGE}


def test_the_managed_rules_never_judge_stripes_signed_events(synth):
    managed = _rules(synth)["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]

    assert contract.ROUTE_STRIPE_WEBHOOK in json.dumps(managed["ScopeDownStatement"]["NotStatement"])


def test_waf_is_attached_to_the_stage_and_can_be_turned_off(synth, synth_custom):
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in json.dumps(association["Properties"]["ResourceArn"])
    assert not synth_custom.resources("AWS::WAFv2::WebACL")  # enable_waf=false, the operator's choice


def json_find(value, key: str) -> list[dict]:
    """Every object under `key` anywhere in `value`."""
    if isinstance(value, dict):
        found = [value[key]] if isinstance(value.get(key), dict) else []
        return found + [item for child in value.values() for item in json_find(child, key)]
    if isinstance(value, list):
        return [item for child in value for item in json_find(child, key)]
    return []
