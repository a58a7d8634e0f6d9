import json

from infra import access_log

MOESIF_FIELDS = {
    "apiId", "requestId", "requestTime", "protocol", "httpMethod", "resourcePath", "requestHostHeader",
    "requestUserAgentHeader", "ip", "status", "responseLength", "durationMs", "caller", "user", "principalId",
    "cognitoIdentityId",
}  # fmt: skip


def test_format_is_one_json_line_with_moesifs_fields():
    rendered = access_log.format_string()
    fields = json.loads(rendered)

    assert "\n" not in rendered
    assert set(fields) >= MOESIF_FIELDS
    assert fields["requestId"] == "$context.requestId"  # API Gateway requires it


def test_the_moesif_user_is_the_account_the_authorizer_resolved_with_the_key_hint_never_a_key_value():
    fields = json.loads(access_log.format_string())

    assert fields["user"] == fields["principalId"] == "$context.authorizer.principalId"
    assert fields["keyHint"] == "$context.authorizer.keyHint"
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"  # the usage key: metering maps it to the account
    assert '$context.identity.apiKey"' not in access_log.format_string()
    assert all(variable != "$context.identity.apiKey" for variable in fields.values())


def test_render_fills_values_and_writes_dash_for_missing_ones_like_api_gateway():
    record = json.loads(
        access_log.render(
            {
                "requestId": "r-1",
                "identity.apiKeyId": "k-1",
                "authorizer.principalId": "acct_1",
                "status": 200,
                "httpMethod": "",
            }
        )
    )

    assert record["requestId"] == "r-1"
    assert (record["user"], record["apiKeyId"], record["keyHint"]) == ("acct_1", "k-1", "-")
    assert record["status"] == "200"
    assert record["httpMethod"] == "-" and record["ip"] == "-"
    assert set(record) == set(access_log.FIELDS)
