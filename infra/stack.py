"""TollgateStack: composes the constructs, tags them and prints what the operator needs."""

from __future__ import annotations

import json

from aws_cdk import Annotations, Aspects, CfnOutput, Fn, Stack, Tags
from constructs import Construct

from infra.api import TollgateApi
from infra.backend import Backend
from infra.customer_accounts import CustomerAccounts
from infra.dashboard import OperationsDashboard
from infra.data import TollgateData
from infra.domains import Domains
from infra.functions import FunctionConfig, TollgateFunctions
from infra.housekeeping import ScheduledHousekeeping
from infra.log_forwarding import MoesifLogForwarding
from infra.monitoring import Alarms, Watched
from infra.nag import acknowledge
from infra.plan_settings import PLACEHOLDER_STRIPE_PRICE_ID
from infra.reconciler import ScheduledReconciler
from infra.settings import Settings
from infra.signup_site import SignupSite
from infra.tracing import ActiveTracing
from infra.usage_metering import UsageMetering
from infra.waf import ApiFirewall
from tollgate import contract


class TollgateStack(Stack):
    """The whole product in one stack: API + usage plan, Firehose -> Moesif, data, functions, site."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs) -> None:
        super().__init__(scope, construct_id, description="Tollgate: a paid API in one stack", **kwargs)
        Tags.of(self).add("project", "tollgate")

        self.data = TollgateData(
            self,
            "Data",
            existing_stripe_secret_arn=settings.existing_stripe_secret_arn,
            existing_moesif_secret_arn=settings.existing_moesif_secret_arn,
        )
        self.log_forwarding = MoesifLogForwarding(
            self,
            "AccessLogs",
            collector_url=settings.moesif_collector_url,
            secret=self.data.moesif_secret,
            stream_name_suffix=settings.stage_name,
            ledger_retention_days=settings.usage_ledger_retention_days,
        )
        self.domains = Domains(self, "Domains", settings=settings.domains) if settings.domains.any else None
        self.api = TollgateApi(
            self,
            "Api",
            settings=settings,
            access_log_destination=self.log_forwarding.access_log_destination,
            access_log_format=self.log_forwarding.access_log_format(),
            custom_domain=settings.domains.api_domain,
        )
        self.site = SignupSite(
            self,
            "SignupSite",
            api_url=self.api.url,
            plans=settings.plans,
            branding=settings.branding,
            domain_name=settings.domains.site_domain,
            certificate=self.domains.site_certificate if self.domains else None,
        )
        if self.domains is not None:
            self.domains.serve_site(self.site.distribution)
            self.domains.serve_api(self.api.rest_api, self.api.stage)
            self.domains.add_outputs()
        self.usage_metering = (
            UsageMetering(self, "UsageMetering", ledger_bucket=self.log_forwarding.ledger_bucket)
            if settings.reports_usage else None
        )
        self.customer_accounts = CustomerAccounts(self, "CustomerAccounts", settings=settings)
        function_config = FunctionConfig(
            stripe_secret=self.data.stripe_secret,
            moesif_secret=self.data.moesif_secret,
            accounts_table=self.data.accounts_table,
            idempotency_table=self.data.idempotency_table,
            plans=settings.plans,
            usage_plans=self.api.usage_plans,
            key_owner=f"{self.stack_name}/{settings.stage_name}",
            signup_url=self.site.url,
            stage_name=settings.stage_name,
            canceled_key_retention_days=settings.canceled_key_retention_days,
            usage_environment=self.usage_metering.environment(settings.billable_statuses)
            if self.usage_metering else {},
            accounts_environment=self.customer_accounts.environment(),
        )
        name_prefix = f"{self.stack_name}-{settings.stage_name}"
        self.functions = TollgateFunctions(
            self,
            "Functions",
            config=function_config,
            reserved_concurrency=settings.reserved_concurrency,
            with_sample_backend=settings.uses_sample_backend,
            name_prefix=name_prefix,
        )
        self.backend = Backend(self, "Backend", settings=settings, sample_backend=self.functions.sample_backend)
        self.reconciler = ScheduledReconciler(
            self, "Reconciler", code=self.functions.code, config=function_config,
            interval_minutes=settings.reconcile_interval_minutes, name_prefix=name_prefix,
        )
        if self.usage_metering is not None:
            self.usage_metering.add_reporter(
                code=self.functions.code,
                environment=self.functions.environment,
                accounts_table=self.data.accounts_table,
                stripe_secret=self.data.stripe_secret,
                function_name=f"{name_prefix}-usage-reporter",
            )
        self.customer_accounts.add_functions(
            code=self.functions.code, config=function_config, environment=self.functions.environment,
            register_role=self.functions.register.role, name_prefix=name_prefix,
            reserved_concurrency=settings.reserved_concurrency,
            usage_reports_table=self.usage_metering.reports_table if self.usage_metering else None)
        self.customer_accounts.route_site_api(self.site.distribution, self.api.domain, self.api.origin_path,
                                              self.site.headers_policy)
        self.firewall = (
            ApiFirewall(self, "Firewall", settings=settings, stage_arn=self.api.stage.stage_arn,
                        site_origin_secret=self.customer_accounts.site_origin_secret_value)
            if settings.enable_waf else None
        )
        if self.firewall is None:
            acknowledge(
                self.api.stage,
                "AwsSolutions-APIG3",
                "enable_waf=false: the operator chose to go without per-IP limits on sign-up, checkout and the "
                "webhook (docs/security.md); the method and stage throttles remain.",
            )
        self.api.add_routes(
            site_origin=self.site.origin,
            register=self.functions.register.function,
            checkout=self.functions.checkout.function,
            stripe_webhook=self.functions.stripe_webhook.function,
            account=self.customer_accounts.account.function,
            backend=self.backend,
        )
        if settings.placeholder_price_plans:
            Annotations.of(self).add_warning_v2(
                "tollgate:placeholder-price",
                f"stripe_price_id is the placeholder {PLACEHOLDER_STRIPE_PRICE_ID!r} (plans: "
                f"{', '.join(settings.placeholder_price_plans)}): their sign-ups will fail until you set the real "
                "price id in cdk.json (make stripe-setup --plans prints the plans block to paste; with the single-plan "
                "settings, make stripe-setup prints the price id for stripe_price_id)",
            )
        self._add_operations(settings, function_config, name_prefix)
        if settings.email_sender_is_placeholder:
            Annotations.of(self).add_warning_v2(
                "tollgate:placeholder-email-sender",
                f"email_sender is the placeholder {settings.email_sender!r}: sign-up confirmations and sign-in links "
                "cannot be sent until you set an address (or domain) verified in Amazon SES in cdk.json or with "
                "-c email_sender=... (docs/customer-accounts.md, 'Amazon SES setup')")
        if settings.enable_tracing:
            Aspects.of(self).add(ActiveTracing())
        self._add_outputs()
        self._add_backend_outputs()

    def _add_operations(self, settings: Settings, function_config: FunctionConfig, name_prefix: str) -> None:
        """The housekeeping, the alarms (and their topic) and the dashboard: docs/operations.md."""
        self.housekeeping = ScheduledHousekeeping(self, "Housekeeping", code=self.functions.code,
                                                  config=function_config, name_prefix=name_prefix)
        http_functions = {"register": self.functions.register.function, "checkout": self.functions.checkout.function,
                          "Stripe webhook": self.functions.stripe_webhook.function,
                          "account": self.customer_accounts.account.function}
        scheduled = {"reconciler": self.reconciler.function.function,
                     "housekeeping": self.housekeeping.function.function,
                     "key retirement": self.customer_accounts.key_retirement.function.function}
        reporter = self.usage_metering.reporter if self.usage_metering else None
        sample_backend = self.functions.sample_backend
        watched = Watched(
            deployment=function_config.key_owner,
            stage_name=settings.stage_name,
            stage=self.api.stage,
            http_functions=http_functions,
            all_functions={**http_functions, **scheduled,
                           **({"usage reporter": reporter.function} if reporter else {}),
                           **({"sample backend": sample_backend.function} if sample_backend else {})},
            delivery_stream_name=self.log_forwarding.delivery_stream.delivery_stream_name,
            dead_letter_queue=self.usage_metering.dead_letter_queue if self.usage_metering else None,
            reconcile_interval=self.reconciler.interval,
            signup_requests_metric=contract.METRIC_SIGNUPS_REQUESTED if settings.verify_email
            else contract.METRIC_SIGNUPS_STARTED,
        )
        self.alarms = Alarms(self, "Alarms", settings=settings, watched=watched)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn,
                  description="Every alarm notifies this SNS topic; subscribe with: aws sns subscribe --topic-arn "
                              "<this> --protocol email --notification-endpoint you@example.com")
        if settings.enable_dashboard:
            self.dashboard = OperationsDashboard(self, "Dashboard", watched=watched, name=f"{name_prefix}-operations",
                                                 alarms=list(self.alarms.alarms.values()))
            CfnOutput(self, "DashboardUrl", description="The operations dashboard",
                      value=f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                            f"#dashboards:name={name_prefix}-operations")

    def _add_outputs(self) -> None:
        stripe_secret_arn = self.data.stripe_secret.secret_arn
        moesif_secret_arn = self.data.moesif_secret.secret_arn
        outputs = {
            contract.STACK_OUTPUT_API_URL: (self.api.url, "Base URL of the metered API (send the key in x-api-key)"),
            contract.STACK_OUTPUT_SIGNUP_URL: (self.site.url, "The signup page"),
            "UsagePlanIds": (Fn.join(",", [Fn.join("=", [plan_id, usage_plan.usage_plan_id])
                                           for plan_id, usage_plan in self.api.usage_plans.items()]),
                             "Each plan's usage plan (plan id=usage plan id, comma-separated)"),
            contract.STACK_OUTPUT_REGISTER_FUNCTION: (
                self.functions.register.function.function_name,
                "The register function, whose settings the ops commands read (make status ARGS=\"--stack <name>\")",
            ),
            "StripeSecretArn": (stripe_secret_arn, "Secret holding the Stripe secret key and webhook signing secret"),
            "MoesifSecretArn": (moesif_secret_arn, "Secret holding the Moesif application id (read by Firehose)"),
            "StripeWebhookUrl": (
                self.api.url_for(contract.ROUTE_STRIPE_WEBHOOK),
                "Register this URL in Stripe with the events: " + ", ".join(contract.STRIPE_WEBHOOK_EVENTS),
            ),
            "PutStripeSecretCommand": (
                self._put_secret_command(stripe_secret_arn, {
                    contract.SECRET_FIELD_STRIPE_SECRET_KEY: "sk_live_...",
                    contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: "whsec_...",
                }),
                "Run this with the real Stripe values after deploy",
            ),
            "PutMoesifSecretCommand": (
                self._put_secret_command(moesif_secret_arn, {
                    contract.SECRET_FIELD_MOESIF_APPLICATION_ID: "<Moesif application id>",
                }),
                "Run this with the real Moesif application id after deploy",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def _add_backend_outputs(self) -> None:
        if self.backend.secret is not None:
            CfnOutput(self, "BackendSecretArn", value=self.backend.secret.secret_arn,
                      description=f"Secret your backend compares the {contract.BACKEND_SECRET_HEADER} header with "
                                  "(the stage sends it on every metered call)")

    def _put_secret_command(self, secret_arn: str, example: dict[str, str]) -> str:
        return (f"aws secretsmanager put-secret-value --region {self.region} --secret-id {secret_arn} "
                f"--secret-string '{json.dumps(example, separators=(',', ':'))}'")
