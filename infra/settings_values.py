"""How each deployment setting is read from cdk.json context and checked (infra/settings.py holds what
they are, with their docs): the patterns and bounds each key must meet, and the plans.

Plain Python, like infra/settings.py: `make dev` reads the same settings the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from infra.branding import Branding
from infra.domain_settings import DomainSettings
from infra.plan_settings import PLANS_EXPECTED, QUOTA_PERIODS, PlanSettings, PlanSettingsError, read_plans
from infra.settings_reader import Reader, SettingsError
from tollgate.domain import api_key_format
from tollgate.plans import LEGACY_PLAN_ID

if TYPE_CHECKING:
    from infra.settings import Settings

# Who sends usage to Stripe: the stack itself (meter events), or Moesif's Stripe integration.
USAGE_REPORTERS = ("tollgate", "moesif")

_EMAIL_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

_KEY_PREFIX = re.compile(api_key_format.PREFIX_PATTERN)
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# The COMPLETE ARN, with the 6-character suffix Secrets Manager appends, so IAM can name it exactly.
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$")
_SECRET_ARN_EXPECTED = (
    "a complete Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)"
)
_PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]+$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$"
)
_SECRET_VERSION = re.compile(r"^[A-Za-z0-9-]{32,64}$")

# A pool's keys are one item of the accounts table (about 70 bytes a shard, DynamoDB allows 400 KB), and
# a pool of this size takes the housekeeping 500 s to make (2 creations a second): it makes it over two runs.
MAX_POOL_SIZE = 1000


def read_settings(settings_class: type[Settings], read: Reader) -> Settings:
    """Every setting of `settings_class` read and checked from `read`'s context (SettingsError naming the key)."""
    read.exclusive(
        "backend_url",
        "backend_function_arn",
        "the metered routes have one backend: an HTTP URL or a "
        "Lambda function invoked directly; set one and leave the other empty",
    )
    read.retired(
        "existing_secret_arn",
        "it was split in two so that Firehose can no longer read the Stripe keys: "
        "set existing_stripe_secret_arn (stripe_secret_key, stripe_webhook_secret) and "
        "existing_moesif_secret_arn (api_key); see docs/deploying.md, 'Upgrading from earlier versions'",
    )
    return settings_class(
        stage_name=read.matching("stage_name", _STAGE_NAME, "1-128 letters, digits, '-' or '_' (e.g. 'prod')"),
        backend_url=read.optional_url("backend_url", schemes=("https", "http")),
        backend_function_arn=read.optional_matching(
            "backend_function_arn",
            _FUNCTION_ARN,
            "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias>])",
        ),
        backend_secret_version=read.optional_matching(
            "backend_secret_version",
            _SECRET_VERSION,
            "the VersionId put-secret-value printed for the backend secret "
            "(docs/operations.md, 'Rotating the backend secret')",
        ),
        plans=_read_plans(read),
        register_rate_limit=read.positive_number("register_rate_limit"),
        register_burst_limit=read.positive_int("register_burst_limit"),
        stage_rate_limit=read.positive_number("stage_rate_limit"),
        stage_burst_limit=read.positive_int("stage_burst_limit"),
        # WAF's rate-based rules take 10 to 2,000,000,000 requests per evaluation window.
        signup_requests_per_ip=read.int_between("signup_requests_per_ip", 10, 2_000_000_000),
        webhook_requests_per_ip=read.int_between("webhook_requests_per_ip", 10, 2_000_000_000),
        stripe_webhook_ips=read.ipv4_list("stripe_webhook_ips"),
        # Firehose delivers only to https endpoints.
        moesif_collector_url=read.url("moesif_collector_url", schemes=("https",)),
        existing_stripe_secret_arn=read.optional_matching(
            "existing_stripe_secret_arn", _SECRET_ARN, _SECRET_ARN_EXPECTED
        ),
        existing_moesif_secret_arn=read.optional_matching(
            "existing_moesif_secret_arn", _SECRET_ARN, _SECRET_ARN_EXPECTED
        ),
        enable_waf=read.boolean("enable_waf"),
        reserved_concurrency=read.non_negative_int("reserved_concurrency"),
        enable_tracing=read.boolean("enable_tracing"),
        usage_reporter=read.lower_choice("usage_reporter", USAGE_REPORTERS),
        billable_statuses=read.status_list("billable_statuses"),
        usage_ledger_retention_days=read.positive_int("usage_ledger_retention_days"),
        # At least the reconciler's timeout (contract.RECONCILER_TIMEOUT_SECONDS), so runs never overlap.
        reconcile_interval_minutes=read.int_between("reconcile_interval_minutes", 5, 1440),
        # API Gateway caches an authorizer's answer for 0 to 3600 s; at most one reconciler interval, so a
        # cut-off the reconciler makes (a lost webhook) takes effect within two intervals at worst.
        authorizer_cache_seconds=read.int_at_most_other(
            "authorizer_cache_seconds", 0, 3600, "reconcile_interval_minutes", 60
        ),
        # At least a day: the calls of a key's last day are reported and `make usage-report` can
        # still ask API Gateway about them; ten years at most.
        canceled_key_retention_days=read.int_between("canceled_key_retention_days", 1, 3650),
        free_pool_size=read.int_between("free_pool_size", 0, MAX_POOL_SIZE),
        alarm_email=read.optional_matching("alarm_email", _EMAIL_ADDRESS, "an email address the alarms are sent to"),
        alarm_signups_per_hour=read.positive_int("alarm_signups_per_hour"),
        alarm_rejected_webhooks_per_hour=read.positive_int("alarm_rejected_webhooks_per_hour"),
        enable_dashboard=read.boolean("enable_dashboard"),
        verify_email=read.boolean("verify_email"),
        email_sender=read.matching(
            "email_sender", _EMAIL_ADDRESS, "an email address verified in SES, e.g. no-reply@your-domain.com"
        ),
        email_link_ttl_hours=read.int_between("email_link_ttl_hours", 1, 168),
        emails_per_address_per_hour=read.int_between("emails_per_address_per_hour", 1, 100),
        # Up to 30 days: a rotated-out key must not live on for long unnoticed.
        key_rotation_grace_hours=read.int_between("key_rotation_grace_hours", 1, 720),
        key_prefix=read.matching(
            "key_prefix", _KEY_PREFIX, "2 to 16 lower-case letters and digits, starting with a letter (e.g. 'tgk')"
        ),
        branding=Branding.from_context(read),
        domains=DomainSettings.from_context(read),
    )


def _read_plans(read: Reader) -> tuple[PlanSettings, ...]:
    """The `plans` list, or a deployment from before plans: its flat keys as the one legacy plan."""
    read.expected["plans"] = PLANS_EXPECTED

    def flat() -> PlanSettings:
        return PlanSettings(
            id=LEGACY_PLAN_ID,
            name="Standard",
            description="",
            price_text="",
            throttle_rate_limit=read.positive_number("throttle_rate_limit"),
            throttle_burst_limit=read.positive_int("throttle_burst_limit"),
            quota_limit=read.positive_int("quota_limit"),
            quota_period=read.choice("quota_period", QUOTA_PERIODS),
            stripe_price_id=read.matching(
                "stripe_price_id", _PRICE_ID, "a Stripe price id starting with 'price_' (make stripe-setup prints it)"
            ),
            require_payment_method=read.boolean("require_payment_method"),
        )

    try:
        return read_plans(read.context, flat)
    except PlanSettingsError as error:
        raise SettingsError(str(error)) from None
