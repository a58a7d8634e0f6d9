"""Typed, validated deployment settings, read from cdk.json context.

Plain Python on purpose (no aws_cdk import): the local dev harness builds the same object from
the same cdk.json, so `make dev` and `cdk deploy` can never disagree on a throttle or a price.

Every key lives flat and snake_case in cdk.json's "context" and can be overridden with
`cdk synth -c key=value` (values given on the command line arrive as strings, so numbers and
booleans are parsed here). A wrong or missing value raises SettingsError naming the key and
what is expected, which fails the synth before anything reaches CloudFormation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from infra.branding import Branding
from infra.domain_settings import DomainSettings
from infra.plan_settings import (
    FLAT_PLAN_KEYS,
    PlanSettings,
)
from infra.settings_reader import Reader, SettingsError
from infra.settings_values import USAGE_REPORTERS, read_settings
from tollgate import contract

# The same for the address Tollgate's emails come from (sign-up confirmation, sign-in links): SES
# sends only from an identity verified in the account (docs/customer-accounts.md).
PLACEHOLDER_EMAIL_SENDER = "sender-not-set@example.com"

__all__ = ["PLACEHOLDER_EMAIL_SENDER", "USAGE_REPORTERS", "Settings", "SettingsError", "load_cdk_json_context"]


@dataclass(frozen=True)
class Settings:
    """Everything a deployment can tune. Each field's `doc` is its line in docs/settings.md, which
    `python -m infra.settings_doc` writes (with the default from cdk.json and what the reader accepts):
    a field without one fails the tests."""

    stage_name: str = field(metadata={"doc": "API Gateway stage name; part of every function's and alarm's name."})
    backend_url: str | None = field(
        metadata={
            "doc": (
                "The http(s) URL of the API you sell: the metered `/` and `/{proxy+}` are proxied to it with the "
                "`x-tollgate-origin-verify` header your backend must check "
                "([Security](security.md#the-backend-cannot-be-bypassed)). "
                "Empty, and no `backend_function_arn`: a built-in sample backend on a Lambda function URL answers "
                "`{method, path, apiKeyId}`, so a fresh deploy works end to end."
            )
        }
    )
    backend_function_arn: str | None = field(
        metadata={
            "doc": (
                "Instead of `backend_url`: a Lambda function (same account and region) the metered routes invoke directly, "
                "with no URL at all."
            )
        }
    )
    backend_secret_version: str | None = field(
        metadata={
            "doc": (
                "The backend secret's version the stage sends; set it to rotate the value "
                "([Operations](operations.md#rotating-the-backend-secret))."
            )
        }
    )
    plans: tuple[PlanSettings, ...] = field(
        metadata={
            "doc": (  # the first is the default (infra/plan_settings.py)
                "The plans sold, the first being the default; each plan's fields are [below](#fields-of-a-plan) and "
                "[Plans](plans.md) says how they work. `-c plans='[...]'` takes the list as JSON."
            )
        }
    )
    register_rate_limit: float = field(
        metadata={
            "doc": (
                "Method throttling (requests per second, all callers together) on the sign-up routes (`POST /register`, "
                "`/billing/checkout` and its outcome) and every `/api/...` route of the site: the cap on their functions."
            )
        }
    )
    register_burst_limit: int = field(metadata={"doc": "Burst for the same methods."})
    stage_rate_limit: float = field(
        metadata={
            "doc": (
                "The stage's throttle (requests per second): a backstop far above any plan, shared by every caller."
            )
        }
    )
    stage_burst_limit: int = field(metadata={"doc": "Burst of the stage's throttle."})
    signup_requests_per_ip: int = field(
        metadata={
            "doc": (
                "WAF: requests per 5 minutes one IP may send to the API's sign-up routes together, and one viewer IP to "
                "the site's routes anyone may call without a session ([Security](security.md#security-defaults))."
            )
        }
    )
    webhook_requests_per_ip: int = field(
        metadata={"doc": ("WAF: requests per 5 minutes one IP may send to `/stripe/webhook`, except Stripe's own IPs.")}
    )
    stripe_webhook_ips: tuple[str, ...] = field(
        metadata={
            "doc": (
                "The IPs Stripe sends webhooks from (<https://docs.stripe.com/ips>), exempt from the per-IP limit; update it "
                "when Stripe's list changes."
            )
        }
    )
    moesif_collector_url: str = field(
        metadata={
            "doc": (
                "The https endpoint Firehose delivers the access logs to: Moesif's Firehose collector for API calls, the URL "
                'Moesif\'s own CDK construct (`sbt-aws-moesif`, schema "events") builds from `https://api.moesif.net`. '
                "Change it only if Moesif gives your account another collector host."
            )
        }
    )
    existing_stripe_secret_arn: str | None = field(
        metadata={
            "doc": (
                "The complete ARN (with its 6-character suffix) of a secret you already filled with `stripe_secret_key` and "
                "`stripe_webhook_secret`; empty: the stack creates one with placeholders."
            )
        }
    )
    existing_moesif_secret_arn: str | None = field(
        metadata={
            "doc": ("The same for the Moesif application id (field `api_key`), the only secret Firehose may read.")
        }
    )
    enable_waf: bool = field(
        metadata={
            "doc": (
                "A regional WAF WebACL on the stage: the per-IP limits above and AWS's common rule set (not on the webhook). "
                "`false` removes it (and its cost) if you accept sign-up and webhook floods."
            )
        }
    )
    reserved_concurrency: int = field(
        metadata={
            "doc": (
                "`0`: no reservation (the method throttles cap the functions). A number: reserved, hard-capped concurrency of "
                "the register, checkout, webhook and account functions each; AWS accepts it only while the account keeps 100 "
                "executions unreserved ([Deploying](deploying.md#concurrency))."
            )
        }
    )
    enable_tracing: bool = field(
        metadata={
            "doc": (
                "AWS X-Ray active tracing on the stage and every Tollgate function (a trace per request through API Gateway "
                "and the function it invokes; cost: [Operations](operations.md#traces)). `false` turns it off."
            )
        }
    )
    usage_reporter: str = field(
        metadata={
            "doc": (
                "Who sends usage to Stripe: `tollgate`, the stack itself (meter events for each plan's meter, "
                "[Usage metering](usage-metering.md)); `moesif`, Moesif's Stripe integration, and the stack sends none "
                "(read [its section](usage-metering.md#usage_reportermoesif) first: it needs a kind of price current Stripe "
                "no longer creates)."
            )
        }
    )
    billable_statuses: str = field(
        metadata={
            "doc": (
                "Which answers of the metered routes are billed: comma-separated status classes (`2xx`) and exact codes "
                "(`304`). Answers API Gateway gives itself (bad key, throttled, over quota, integration failures) never are."
            )
        }
    )
    usage_ledger_retention_days: int = field(
        metadata={
            "doc": (
                "How long the usage ledger (every access-log record, in S3) and the per-customer evidence made from it (the "
                "CSV of every billed call the account page downloads) are kept. 400 days: a year of monthly invoices, plus the "
                "time a customer has to dispute the last one."
            )
        }
    )
    reconcile_interval_minutes: int = field(
        metadata={
            "doc": (
                "How often the reconciler compares every subscription with its account and repairs lost webhook events."
            )
        }
    )
    authorizer_cache_seconds: int = field(
        metadata={
            "doc": (
                "How long API Gateway keeps the key authorizer's answer for a key: a revoked key, or a suspended or canceled "
                "account, stops calling at most this long after it happened; `0` asks the authorizer on every call "
                "([Scaling](scaling.md#the-authorizers-cache))."
            )
        }
    )
    free_pool_size: int = field(
        metadata={
            "doc": (
                "API Gateway keys the accounts of each free plan share (their shards; an account's is a hash of its id): a "
                "free sign-up then makes no API Gateway key, so neither the 10,000 keys per region nor CreateApiKey's 5 a "
                "second bound free accounts. `0`: every free account gets a key of its own, as paid ones do "
                "([Scaling](scaling.md#pooled-keys)). Lowering it leaves the accounts of the removed shards on their keys "
                "until their row is next written."
            )
        }
    )
    canceled_key_retention_days: int = field(
        metadata={
            "doc": (
                "The housekeeping deletes a canceled account's API key this many days after the cancellation; the account row "
                "keeps the key id ([Scaling](scaling.md))."
            )
        }
    )
    alarm_email: str | None = field(
        metadata={
            "doc": (
                "An address the alarm topic mails (AWS first mails a confirmation link); empty: subscribe whatever you use "
                "yourself ([Operations](operations.md#hearing-about-it))."
            )
        }
    )
    alarm_signups_per_hour: int = field(
        metadata={
            "doc": (
                'The "sign-ups per hour" alarm fires at this many sign-up requests in an hour (sign-ups started, with '
                "`verify_email=false`): a bot wave, or growth (then raise it)."
            )
        }
    )
    alarm_rejected_webhooks_per_hour: int = field(
        metadata={
            "doc": (
                "The alarm on deliveries to `/stripe/webhook` not signed by Stripe fires at this many in an hour: a flood, or "
                "a wrong `stripe_webhook_secret`."
            )
        }
    )
    enable_dashboard: bool = field(
        metadata={
            "doc": (
                "The operations dashboard (free as one of the account's first 3 dashboards, else $3 a month); `false` removes "
                "it."
            )
        }
    )
    verify_email: bool = field(
        metadata={
            "doc": (
                "Sign-up answers `202` and emails a one-time link; nothing is created until it is opened "
                "([Customer accounts](customer-accounts.md)). `false`: the one-step `201` sign-up."
            )
        }
    )
    email_sender: str = field(
        metadata={
            "doc": (
                "The address Tollgate's emails come from, verified in Amazon SES (an address, or its domain). The shipped "
                "value is a placeholder synth accepts with a warning; emails cannot be sent until it is set."
            )
        }
    )
    email_link_ttl_hours: int = field(metadata={"doc": "How long a sign-up or sign-in link works."})
    emails_per_address_per_hour: int = field(
        metadata={
            "doc": (
                "At most this many of Tollgate's emails to one address per clock hour; past it the form says when to try "
                "again."
            )
        }
    )
    key_rotation_grace_hours: int = field(
        metadata={"doc": ('How long a rotated-out key keeps working; "Revoke now" ends it at once.')}
    )
    key_prefix: str = field(
        metadata={
            "doc": (
                "What every key Tollgate issues starts with: `<key_prefix>_live_...`, or `_test_` with a Stripe test key "
                "([Security](security.md#api-keys)). Changing it keeps earlier keys working."
            )
        }
    )
    # Several flat keys, one object: metadata says which keys (see context_keys); each key's doc is Branding's.
    branding: Branding = field(metadata={"context_keys": Branding.context_keys()})
    domains: DomainSettings = field(metadata={"context_keys": DomainSettings.context_keys()})

    @property
    def email_sender_is_placeholder(self) -> bool:
        return self.email_sender == PLACEHOLDER_EMAIL_SENDER

    def customer_accounts_environment(self, access_table: str) -> dict[str, str]:
        """What the functions serving customer accounts are told (the stack and `make dev` alike)."""
        return {
            contract.ENV_CUSTOMER_ACCESS_TABLE: access_table,
            contract.ENV_VERIFY_EMAIL: "true" if self.verify_email else "false",
            contract.ENV_EMAIL_SENDER: self.email_sender,
            contract.ENV_EMAIL_LINK_TTL_SECONDS: str(self.email_link_ttl_hours * 3600),
            contract.ENV_EMAILS_PER_ADDRESS_PER_HOUR: str(self.emails_per_address_per_hour),
            contract.ENV_KEY_ROTATION_GRACE_SECONDS: str(self.key_rotation_grace_hours * 3600),
            contract.ENV_KEY_PREFIX: self.key_prefix,
        }

    def pool_size(self, plan: PlanSettings) -> int:
        """How many keys the accounts of `plan` share (0: a key each)."""
        return self.free_pool_size if plan.is_free else 0

    @property
    def uses_sample_backend(self) -> bool:
        """No backend given: the stack deploys its echo Lambda so a fresh deploy works end to end."""
        return self.backend_url is None and self.backend_function_arn is None

    @property
    def reports_usage(self) -> bool:
        """The stack sends the meter events itself (usage_reporter=tollgate)."""
        return self.usage_reporter == "tollgate"

    @property
    def placeholder_price_plans(self) -> tuple[str, ...]:
        """The ids of the plans whose price is still cdk.json's placeholder (synth warns)."""
        return tuple(plan.id for plan in self.plans if plan.price_is_placeholder)

    @classmethod
    def context_keys(cls) -> tuple[str, ...]:
        """The cdk.json context keys the settings are read from (one per field, or the field's own list, and
        the flat plan keys)."""
        return (
            tuple(key for each in fields(cls) for key in each.metadata.get("context_keys", (each.name,)))
            + FLAT_PLAN_KEYS
        )

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        """Build and validate the settings from flat context values (cdk.json or `-c`)."""
        return cls._read(Reader(context))

    @classmethod
    def accepted_values(cls, context: Mapping[str, Any]) -> dict[str, str]:
        """What each key read from a valid `context` accepts, in the words its error message would use
        (docs/settings.md shows them, so the page says what the check does)."""
        read = Reader(context)
        cls._read(read)
        return dict(read.expected)

    @classmethod
    def _read(cls, read: Reader) -> Settings:
        return read_settings(cls, read)


def load_cdk_json_context(path: str | Path = "cdk.json") -> dict[str, Any]:
    """The "context" object of cdk.json, read without CDK (for localdev and the tests)."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return dict(document.get("context", {}))
