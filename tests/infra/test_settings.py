import json
import subprocess
import sys

import pytest
from infra_synth import EXISTING_MOESIF_SECRET_ARN, EXISTING_STRIPE_SECRET_ARN, REPO_ROOT

from infra.domain_settings import DomainSettings
from infra.plan_settings import FLAT_PLAN_KEYS, PLACEHOLDER_STRIPE_PRICE_ID
from infra.settings import Settings, SettingsError, load_cdk_json_context
from tollgate.plans import LEGACY_PLAN_ID

# The flat plan settings of the versions before plans, as an operator's cdk.json still has them.
FLAT_PLAN = {
    "throttle_rate_limit": 10,
    "throttle_burst_limit": 20,
    "quota_limit": 10000,
    "quota_period": "MONTH",
    "stripe_price_id": PLACEHOLDER_STRIPE_PRICE_ID,
    "require_payment_method": False,
}


@pytest.fixture
def context():
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


@pytest.fixture
def flat_context(context):
    """cdk.json as it was before plans: one plan in flat settings."""
    return {**{key: value for key, value in context.items() if key != "plans"}, **FLAT_PLAN}


def test_cdk_json_defaults_are_valid_and_use_the_sample_backend(context):
    settings = Settings.from_context(context)

    assert settings.uses_sample_backend
    assert settings.existing_stripe_secret_arn is None and settings.existing_moesif_secret_arn is None
    assert [plan.id for plan in settings.plans] == [LEGACY_PLAN_ID, "free"]
    assert settings.placeholder_price_plans == (LEGACY_PLAN_ID,)
    assert settings.moesif_collector_url.startswith("https://")
    assert settings.enable_waf is True


def test_the_flat_settings_of_earlier_versions_are_one_plan_as_before(flat_context):
    (plan,) = Settings.from_context(flat_context).plans

    assert (
        plan.id,
        plan.throttle_rate_limit,
        plan.throttle_burst_limit,
        plan.quota_limit,
        plan.quota_period,
        plan.stripe_price_id,
        plan.require_payment_method,
    ) == (LEGACY_PLAN_ID, 10.0, 20, 10000, "MONTH", PLACEHOLDER_STRIPE_PRICE_ID, False)


def test_cdk_json_declares_every_setting_and_turns_cli_telemetry_off(context):
    assert set(Settings.context_keys()) - set(FLAT_PLAN_KEYS) <= set(context)
    assert context["cli-telemetry"] is False
    assert json.loads((REPO_ROOT / "cdk.json").read_text())["app"].endswith("app.py")


def test_command_line_strings_are_parsed_into_typed_values(flat_context):
    settings = Settings.from_context(
        {
            **flat_context,
            "throttle_rate_limit": "2.5",
            "quota_limit": "500",
            "quota_period": "week",
            "enable_waf": "true",
            "require_payment_method": "False",
            "backend_url": "https://api.example.com",
            "existing_stripe_secret_arn": EXISTING_STRIPE_SECRET_ARN,
        }
    )

    (plan,) = settings.plans
    assert (plan.throttle_rate_limit, plan.quota_limit, plan.quota_period) == (2.5, 500, "WEEK")
    assert settings.enable_waf is True and plan.require_payment_method is False
    assert settings.backend_url == "https://api.example.com" and not settings.uses_sample_backend
    assert settings.existing_stripe_secret_arn == EXISTING_STRIPE_SECRET_ARN


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stage_name", "prod stage", "'stage_name' must be 1-128 letters, digits"),
        ("register_rate_limit", -1, "'register_rate_limit' must be a number greater than 0"),
        ("register_burst_limit", 0, "'register_burst_limit' must be a whole number greater than 0"),
        ("moesif_collector_url", "http://api.moesif.net", "'moesif_collector_url' must be an absolute https URL"),
        ("backend_url", "ftp://backend", "'backend_url' must be an absolute https or http URL"),
        ("backend_url", "not a url", "'backend_url' must be an absolute https or http URL"),
        (
            "existing_stripe_secret_arn",
            "arn:aws:s3:::bucket",
            "'existing_stripe_secret_arn' must be a complete Secrets Manager",
        ),
        (
            "existing_moesif_secret_arn",
            EXISTING_MOESIF_SECRET_ARN[:-3],
            "'existing_moesif_secret_arn' must be a complete Secrets Manager",
        ),
        (
            "existing_secret_arn",
            EXISTING_STRIPE_SECRET_ARN,
            "'existing_secret_arn' is no longer read: it was split in two so that Firehose can no longer read the Stripe",
        ),
        ("enable_waf", "maybe", "cdk.json context 'enable_waf' must be true or false; got 'maybe'"),
        ("reserved_concurrency", -1, "'reserved_concurrency' must be a whole number, 0 or more"),
        ("usage_reporter", "stripe", "'usage_reporter' must be one of tollgate, moesif; got 'stripe'"),
        ("billable_statuses", "2xx,ok", "'billable_statuses' must be comma-separated status classes like 2xx"),
        ("billable_statuses", "200-299", "'billable_statuses' must be comma-separated status classes like 2xx"),
        ("usage_ledger_retention_days", 0, "'usage_ledger_retention_days' must be a whole number greater than 0"),
        ("reconcile_interval_minutes", 4, "'reconcile_interval_minutes' must be a whole number from 5 to 1440; got 4"),
        (
            "authorizer_cache_seconds",
            3601,
            "'authorizer_cache_seconds' must be a whole number from 0 to 3600; got 3601",
        ),
        ("authorizer_cache_seconds", -1, "'authorizer_cache_seconds' must be a whole number from 0 to 3600; got -1"),
        ("key_prefix", "TGK", "'key_prefix' must be 2 to 16 lower-case letters and digits, starting with a letter"),
        ("key_prefix", "tg_k", "'key_prefix' must be 2 to 16 lower-case letters and digits, starting with a letter"),
        ("backend_function_arn", "my-function", "'backend_function_arn' must be a Lambda function ARN"),
        ("backend_secret_version", "v2", "'backend_secret_version' must be the VersionId put-secret-value printed"),
        (
            "canceled_key_retention_days",
            0,
            "'canceled_key_retention_days' must be a whole number from 1 to 3650; got 0",
        ),
        ("alarm_email", "ops at example.com", "'alarm_email' must be an email address the alarms are sent to or empty"),
        ("alarm_signups_per_hour", 0, "'alarm_signups_per_hour' must be a whole number greater than 0; got 0"),
        (
            "alarm_rejected_webhooks_per_hour",
            "many",
            "'alarm_rejected_webhooks_per_hour' must be a whole number greater than 0; got 'many'",
        ),
        ("enable_dashboard", "sometimes", "'enable_dashboard' must be true or false; got 'sometimes'"),
    ],
)
def test_a_wrong_value_names_the_key_and_what_is_expected(context, key, value, message):
    with pytest.raises(SettingsError, match=None) as raised:
        Settings.from_context({**context, key: value})

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("quota_period", "YEAR", "cdk.json context 'quota_period' must be one of DAY, WEEK, MONTH; got 'YEAR'"),
        ("throttle_rate_limit", 0, "'throttle_rate_limit' must be a number greater than 0"),
        ("throttle_burst_limit", "ten", "'throttle_burst_limit' must be a whole number greater than 0; got 'ten'"),
        ("quota_limit", 1.5, "'quota_limit' must be a whole number greater than 0; got 1.5"),
        ("quota_limit", True, "'quota_limit' must be a whole number greater than 0; got True"),
        ("stripe_price_id", "plan_123", "'stripe_price_id' must be a Stripe price id starting with 'price_'"),
        ("require_payment_method", 2, "'require_payment_method' must be true or false; got 2"),
    ],
)
def test_a_wrong_flat_plan_value_names_the_key_and_what_is_expected(flat_context, key, value, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({**flat_context, key: value})

    assert message in str(raised.value)


@pytest.mark.parametrize("key", FLAT_PLAN_KEYS)
def test_a_missing_flat_plan_value_names_the_key(flat_context, key):
    del flat_context[key]

    with pytest.raises(SettingsError, match=f"cdk.json context '{key}' is missing; expected"):
        Settings.from_context(flat_context)


OPTIONAL_KEYS = {
    "backend_url",
    "backend_function_arn",
    "backend_secret_version",
    "existing_stripe_secret_arn",
    "existing_moesif_secret_arn",
    "alarm_email",
    "plans",
    *FLAT_PLAN_KEYS,
    "logo_url",
    "terms_url",
    "privacy_url",
    "support_contact",
    *DomainSettings.context_keys(),
}


@pytest.mark.parametrize("key", sorted(set(Settings.context_keys()) - OPTIONAL_KEYS))
def test_a_missing_required_value_names_the_key(context, key):
    del context[key]

    with pytest.raises(SettingsError, match=f"cdk.json context '{key}' is missing; expected"):
        Settings.from_context(context)


def test_usage_settings_default_to_tollgate_reporting_2xx_kept_400_days(context):
    settings = Settings.from_context(context)
    from_command_line = Settings.from_context(
        {**context, "usage_reporter": "Moesif", "billable_statuses": " 2XX, 304 "}
    )

    assert (settings.usage_reporter, settings.billable_statuses, settings.usage_ledger_retention_days) == (
        "tollgate",
        "2xx",
        400,
    )
    assert settings.reports_usage and not from_command_line.reports_usage
    assert from_command_line.billable_statuses == "2xx,304"


def test_optional_values_may_be_empty(context):
    settings = Settings.from_context(
        {**context, "backend_url": "  ", "existing_stripe_secret_arn": None, "existing_secret_arn": ""}
    )

    assert settings.backend_url is None and settings.existing_stripe_secret_arn is None


def test_the_modules_localdev_shares_do_not_import_cdk():
    """localdev builds the same settings, log records, site headers and gateway errors without CDK."""
    probe = (
        "import sys, infra.settings, infra.access_log, infra.site_delivery, infra.gateway_errors; "
        "print(any(m.startswith('aws_cdk') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT)

    assert result.stdout.strip() == "False"


def test_one_backend_only(context):
    with pytest.raises(SettingsError, match="'backend_url' and 'backend_function_arn' are both set"):
        Settings.from_context(
            {
                **context,
                "backend_url": "https://api.example.com",
                "backend_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:api",
            }
        )


def test_the_authorizer_cache_lasts_at_most_one_reconciler_interval(context):
    """A cut-off the reconciler makes (a lost webhook) then takes effect within two intervals at worst."""
    assert (
        Settings.from_context(
            {**context, "reconcile_interval_minutes": 5, "authorizer_cache_seconds": 300}
        ).authorizer_cache_seconds
        == 300
    )
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({**context, "reconcile_interval_minutes": 5, "authorizer_cache_seconds": 301})
    assert str(raised.value) == (
        "cdk.json context 'authorizer_cache_seconds' must be a whole number from 0 to 3600, "
        "at most reconcile_interval_minutes x 60 (300); got 301"
    )
    assert Settings.from_context({**context, "authorizer_cache_seconds": "0"}).authorizer_cache_seconds == 0
