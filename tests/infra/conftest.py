"""One synthesized stack per configuration per session, so the infra tests stay fast: every test
reads the same Template instead of synthesizing its own (see infra_synth.py)."""

from __future__ import annotations

import pytest
from infra_synth import BRAND, EXISTING_MOESIF_SECRET_ARN, EXISTING_STRIPE_SECRET_ARN, Synth, synthesize


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    """The default deployment: cdk.json as shipped (sample backend, managed secrets, WAF on)."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def synth_custom(tmp_path_factory) -> Synth:
    """An operator's deployment: the flat single-plan settings of the versions before plans (a card required),
    own backend, existing secrets, WAF and tracing off,
    reserved concurrency, usage reported by Moesif's integration, a 90-day ledger, an hourly reconciler (and a
    15-minute authorizer cache), keys prefixed `acme`, alarms
    mailed to an address with their own thresholds, no dashboard, the one-step sign-up (no email link), the
    owner's brand (BRAND below) with a logo on another host."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-custom"),
        backend_url="https://backend.example.com/v1",
        existing_stripe_secret_arn=EXISTING_STRIPE_SECRET_ARN,
        existing_moesif_secret_arn=EXISTING_MOESIF_SECRET_ARN,
        enable_waf=False,
        plans="",
        throttle_rate_limit=10,
        throttle_burst_limit=20,
        quota_limit=10000,
        quota_period="MONTH",
        require_payment_method=True,
        stripe_price_id="price_1Abc",
        reserved_concurrency=5,
        enable_tracing=False,
        usage_reporter="moesif",
        usage_ledger_retention_days=90,
        reconcile_interval_minutes=60,
        authorizer_cache_seconds=900,
        key_prefix="acme",
        alarm_email="ops@example.com",
        alarm_signups_per_hour=500,
        alarm_rejected_webhooks_per_hour=3,
        enable_dashboard=False,
        verify_email=False,
        **BRAND,
    )
