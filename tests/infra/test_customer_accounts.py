"""Issue 12 in the stack (infra/customer_accounts.py, infra/gateway.py, infra/waf.py): the account API on
the signup site's own origin through CloudFront, the access table, who may send email and from
which address, the key retirement schedule, WAF's per-viewer-IP limit and its refusal of direct
calls, and the settings."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Annotations, Match
from infra_synth import REPO_ROOT, resolve_join

from infra.customer_accounts import RETIREMENT_INTERVAL
from infra.settings import PLACEHOLDER_EMAIL_SENDER, Settings, SettingsError, load_cdk_json_context
from tollgate import contract


def _function(synth, handler: str) -> tuple[str, dict]:
    ((logical_id, function),) = [
        (logical_id, f)
        for logical_id, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == handler
    ]
    return logical_id, function


def _grants(synth, handler: str) -> dict[str, list[str]]:
    return synth.role_grants(_function(synth, handler)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def _api_behaviour(synth) -> tuple[dict, dict]:
    (distribution,) = synth.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    (origin,) = [origin for origin in config["Origins"] if origin["Id"] == behaviour["TargetOriginId"]]
    return behaviour, origin


def test_cloudfront_serves_api_from_the_stage_uncached_with_cookies_and_without_the_host_header(synth):
    behaviour, origin = _api_behaviour(synth)
    (api_id,) = synth.resources("AWS::ApiGateway::RestApi")

    assert behaviour["PathPattern"] == "/api/*"
    assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    assert (
        behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    )  # Managed-AllViewerExceptHostHeader
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert set(behaviour["AllowedMethods"]) >= {"GET", "POST", "OPTIONS"}
    assert resolve_join(origin["DomainName"]) == f"<{api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>"
    assert origin["OriginPath"] == f"/{synth.settings.stage_name}"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_cloudfront_tells_the_stage_the_viewers_ip_and_proves_it_is_cloudfront(synth):
    behaviour, origin = _api_behaviour(synth)
    (association,) = behaviour["FunctionAssociations"]
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    code = synth.resources("AWS::CloudFront::Function")[function_id]["Properties"]["FunctionCode"]
    (secret_id,) = [
        s for s in synth.resources("AWS::SecretsManager::Secret") if s.startswith("CustomerAccountsSiteOrigin")
    ]
    (header,) = origin["OriginCustomHeaders"]

    assert association == {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]}}
    assert f"request.headers['{contract.VIEWER_IP_HEADER}'] = {{ value: event.viewer.ip }}" in code
    assert header["HeaderName"] == contract.SITE_ORIGIN_SECRET_HEADER
    assert resolve_join(header["HeaderValue"]) == f"{{{{resolve:secretsmanager:<{secret_id}>:SecretString:::}}}}"


def test_every_site_route_is_on_the_api_under_api_with_its_function(synth):
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(resource_id: str) -> str:
        properties = resources[resource_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path_of(parent["Ref"]) if isinstance(parent, dict) and "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    methods = {
        (path_of(m["Properties"]["ResourceId"]["Ref"]), m["Properties"]["HttpMethod"]): json.dumps(
            m["Properties"]["Integration"]
        )
        for m in synth.resources("AWS::ApiGateway::Method").values()
        if "Ref" in m["Properties"]["ResourceId"]
    }
    for route, method in contract.SITE_ROUTES.items():
        function = _function(synth, contract.SITE_ROUTE_HANDLERS[route])[1]
        assert function["Properties"]["FunctionName"] in methods[route, method], route
        assert (route, "OPTIONS") not in methods  # same origin: no CORS
    for route, twin in contract.SITE_TWIN_OF_ROUTE.items():  # the page's sign-up routes run the API's functions
        assert methods[route, "POST"] == methods[twin, "POST"], twin


def test_the_access_table_expires_everything_has_its_two_sparse_indexes_and_goes_with_the_stack(synth):
    (table,) = [
        t
        for logical_id, t in synth.resources("AWS::DynamoDB::Table").items()
        if logical_id.startswith("CustomerAccountsAccessTable")
    ]
    indexes = {index["IndexName"]: index for index in table["Properties"]["GlobalSecondaryIndexes"]}

    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": contract.ACCESS_TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert indexes[contract.ACCESS_INDEX_BY_OWNER]["KeySchema"] == [
        {"AttributeName": contract.ACCESS_ATTR_OWNER, "KeyType": "HASH"}
    ]
    assert indexes[contract.ACCESS_INDEX_DUE]["KeySchema"] == [
        {"AttributeName": contract.ACCESS_ATTR_DUE_KIND, "KeyType": "HASH"},
        {"AttributeName": contract.ACCESS_ATTR_DUE_AT, "KeyType": "RANGE"},
    ]
    assert table["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    "handler", [contract.HANDLER_REGISTER, contract.HANDLER_ACCOUNT, contract.HANDLER_USAGE_REPORTER]
)
def test_email_is_sent_only_from_the_configured_sender(synth, handler):
    (statement,) = [
        s
        for s in synth.role_statements(_function(synth, handler)[1]["Properties"]["Role"]["Fn::GetAtt"][0])
        if s["Action"] == "ses:SendEmail"
    ]
    sender = synth.settings.email_sender
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}
    assert sorted(resolve_join(r) for r in statement["Resource"]) == sorted(
        f"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/{identity}"
        for identity in (sender, sender.split("@")[1])
    )


def test_no_other_function_sends_email(synth):
    senders = {
        f["Properties"]["Handler"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("tollgate.")
        and "ses:SendEmail" in _grants(synth, f["Properties"]["Handler"])
    }
    # the usage reporter: the usage alerts its counts cross (infra/spend_control.py)
    assert senders == {contract.HANDLER_REGISTER, contract.HANDLER_ACCOUNT, contract.HANDLER_USAGE_REPORTER}


def test_the_account_function_queries_the_usage_counts_to_decide_a_changed_cap_and_writes_none(synth):
    grants = _grants(synth, contract.HANDLER_ACCOUNT)
    (counts_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("UsageMeteringCountsTable")]
    on_counts = {
        action for action, resources in grants.items() if any(counts_id in str(resource) for resource in resources)
    }
    assert on_counts == {"dynamodb:Query"}


def test_the_account_function_reads_this_plans_usage_creates_no_key_and_reads_the_customers_usage_index_only(synth):
    grants = _grants(synth, contract.HANDLER_ACCOUNT)
    plan_ids = list(synth.plan_usage_plans())
    (reports_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if t.startswith("UsageMeteringReportsTable")]
    base = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"

    assert sorted(grants["apigateway:GET"]) == sorted(f"{base}/usageplans/<{plan_id}>/usage" for plan_id in plan_ids)
    # rotation and revocation touch the keys table only: no UpdateUsage, no CreateApiKey; PATCH is on owned keys
    assert grants["apigateway:PATCH"] == [f"{base}/apikeys/*"]
    assert f"{base}/apikeys" not in grants.get("apigateway:POST", [])
    assert f"<{reports_id}.Arn>/index/{contract.USAGE_REPORTS_INDEX_BY_CUSTOMER}" in grants["dynamodb:Query"]
    assert not any(
        r.startswith(f"<{reports_id}") for action, rs in grants.items() if action != "dynamodb:Query" for r in rs
    )


def test_rotated_out_keys_are_retired_on_a_schedule_by_a_function_that_may_only_end_keys(synth):
    function_id, function = _function(synth, contract.HANDLER_KEY_RETIREMENT)
    (schedule,) = [
        s["Properties"]
        for s in synth.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    grants = _grants(synth, contract.HANDLER_KEY_RETIREMENT)

    assert schedule["ScheduleExpression"] == f"rate({int(RETIREMENT_INTERVAL.to_minutes())} minutes)"
    assert {action for action in grants if action.startswith("apigateway:")} == {
        "apigateway:PATCH",
        "apigateway:DELETE",
    }
    assert not any(action.startswith(("secretsmanager:", "ses:")) for action in grants)
    assert function["Properties"]["Environment"]["Variables"][contract.ENV_KEY_ROTATION_GRACE_SECONDS] == str(24 * 3600)


def test_waf_refuses_api_calls_that_skipped_cloudfront_and_limits_sign_in_per_viewer_ip(synth):
    """How the two `/api/*` rules decide; which paths they match is tests/infra/test_waf.py's."""
    (web_acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in web_acl["Properties"]["Rules"]}
    (secret_id,) = [
        s for s in synth.resources("AWS::SecretsManager::Secret") if s.startswith("CustomerAccountsSiteOrigin")
    ]

    direct = rules["SiteApiOnlyThroughCloudFront"]
    _, without_secret = direct["Statement"]["AndStatement"]["Statements"]
    secret_match = without_secret["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert direct["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 403
    assert secret_match["FieldToMatch"] == {"SingleHeader": {"Name": contract.SITE_ORIGIN_SECRET_HEADER}}
    assert resolve_join(secret_match["SearchString"]) == f"{{{{resolve:secretsmanager:<{secret_id}>:SecretString:::}}}}"

    per_viewer = rules["SiteSignInPerViewerIp"]["Statement"]["RateBasedStatement"]
    assert (per_viewer["AggregateKeyType"], per_viewer["Limit"]) == (
        "FORWARDED_IP",
        synth.settings.signup_requests_per_ip,
    )
    assert per_viewer["ForwardedIPConfig"] == {"HeaderName": contract.VIEWER_IP_HEADER, "FallbackBehavior": "MATCH"}
    assert direct["Priority"] < rules["SiteSignInPerViewerIp"]["Priority"]


def test_a_placeholder_sender_is_accepted_with_a_warning(synth):
    assert synth.settings.email_sender == PLACEHOLDER_EMAIL_SENDER
    Annotations.from_stack(synth.stack).has_warning("*", Match.string_like_regexp("email_sender is the placeholder"))


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("email_sender", "not an address", "an email address verified in SES"),
        ("email_link_ttl_hours", "0", "a whole number from 1 to 168"),
        ("emails_per_address_per_hour", "1000", "a whole number from 1 to 100"),
        ("key_rotation_grace_hours", "0", "a whole number from 1 to 720"),
        ("verify_email", "maybe", "true or false"),
    ],
)
def test_bad_account_settings_stop_the_synth_naming_the_key(key, value, expected):
    context = {**load_cdk_json_context(REPO_ROOT / "cdk.json"), key: value}
    with pytest.raises(SettingsError, match=f"'{key}' must be {expected}"):
        Settings.from_context(context)
