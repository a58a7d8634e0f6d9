"""The billing lifecycle feature: the accounts table, the Stripe secret, Checkout, Stripe's webhook and
the scheduled reconciler (docs/billing-lifecycle.md).

- The accounts table links paying customers to their keys and Stripe objects: it is RETAINed when
  the stack is deleted (losing it would orphan live subscriptions), with deletion protection and
  point-in-time recovery. Every feature's functions read it (its name is in the shared environment).
- The Stripe secret keeps the construct id and template value of the single secret of earlier
  versions, on purpose: CloudFormation writes a changed SecretString over the values an operator
  put, so the value stays as it was (its `api_key` placeholder is read no more). Firehose reads the
  Moesif secret instead (infra/gateway.py), so it can never read a Stripe key. An existing secret is
  used when `existing_stripe_secret_arn` is set (infra/operator_secrets.py).
- The reconciler runs every `reconcile_interval_minutes` on EventBridge Scheduler (infra/scheduled.py),
  so a non-payer is cut off (and a payer restored) within one interval even if every Stripe webhook
  is lost (tollgate/domain/reconciliation.py). Its timeout (contract.RECONCILER_TIMEOUT_SECONDS) is at
  most the shortest interval, so two runs never overlap; the run itself stops a minute before it, and
  the next resumes from its cursor.

Least privilege, per function:
- checkout: read an API key, read the Stripe secret, read accounts, read a key item (the presented
  key, by its hash: the keys table of infra/authorizer.py).
- webhook and reconciler: enable/disable this deployment's API keys and move them between its usage
  plans (require_payment_method activation, plan changes; infra/api_key_access.py), read the Stripe
  secret, read/write accounts and key items (they follow the account's status; the reconciler repairs
  items that missed a row write).
"""

from __future__ import annotations

from aws_cdk import Annotations, Duration, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import Functions, PythonFunction
from infra.gateway import Gateway
from infra.nag import acknowledge_wildcards, arn_of
from infra.operator_secrets import output_secret, placeholder_secret, stack_output
from infra.plan_settings import PLACEHOLDER_STRIPE_PRICE_ID
from infra.scheduled import ScheduledFunction
from infra.settings import Settings
from infra.tables import on_demand_table
from tollgate import contract

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


class BillingLifecycle(Construct):
    """`accounts_table`, `stripe_secret`, the `checkout` and `stripe_webhook` functions (routed on the
    gateway) and the `reconciler` (a ScheduledFunction)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Functions,
        gateway: Gateway,
        keys_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.accounts_table = self._accounts_table()
        self.stripe_secret = placeholder_secret(
            self,
            "Secret",
            settings.existing_stripe_secret_arn,
            description="Tollgate: Stripe secret key, Stripe webhook signing secret, Moesif application id "
            "(api_key). Created with placeholders; set the real values after deploy.",
            fields=(*contract.STRIPE_SECRET_FIELDS, contract.SECRET_FIELD_MOESIF_APPLICATION_ID),
            rotation="Holds Stripe's secret key and webhook signing secret, which can only be rotated in the Stripe "
            "dashboard; rotate there, then run the PutStripeSecretCommand output (docs/operations.md).",
        )
        # make smoke's role reads the Stripe secret by this tag (infra/smoke_access.py); an existing secret is the
        # owner's to tag (docs/deploying.md).
        Tags.of(self.stripe_secret).add(contract.API_KEY_OWNER_TAG, gateway.key_owner)
        functions.provide(
            {
                contract.ENV_STRIPE_SECRET_ARN: self.stripe_secret.secret_arn,
                contract.ENV_ACCOUNTS_TABLE: self.accounts_table.table_name,
            }
        )

        self.checkout = functions.business(
            self,
            "Checkout",
            handler=contract.HANDLER_CHECKOUT,
            timeout=Duration.seconds(15),
            public=True,
            description="Tollgate POST /billing/checkout: Stripe Checkout (setup mode) for the key's customer",
        )
        gateway.keys.grant_read(self.checkout.role)
        self.stripe_secret.grant_read(self.checkout.role)
        self.accounts_table.grant_read_data(self.checkout.role)
        keys_table.grant(self.checkout.role, "dynamodb:GetItem")  # the presented key, by its hash

        self.stripe_webhook = functions.business(
            self,
            "StripeWebhook",
            handler=contract.HANDLER_STRIPE_WEBHOOK,
            timeout=Duration.seconds(20),
            public=True,
            description="Tollgate POST /stripe/webhook: API keys follow the Stripe subscription",
        )
        self.reconciler = ScheduledFunction(
            self,
            "Reconciler",
            functions=functions,
            handler=contract.HANDLER_RECONCILER,
            timeout=Duration.seconds(contract.RECONCILER_TIMEOUT_SECONDS),
            interval=Duration.minutes(settings.reconcile_interval_minutes),
            description="Tollgate reconciler: repairs keys and accounts whose Stripe webhook was lost",
        )
        for role in (self.stripe_webhook.role, self.reconciler.role):
            gateway.keys.grant_enable(role)
            gateway.keys.grant_plan_membership(role, attach=True, detach=True)  # plan changes move keys
            self.stripe_secret.grant_read(role)
            self.accounts_table.grant_read_write_data(role)
            keys_table.grant_read_write_data(role)
        for role in (self.checkout.role, self.stripe_webhook.role, self.reconciler.role):
            self.acknowledge_accounts_indexes(role)
        self._route(gateway)
        self._add_outputs(gateway)
        if settings.placeholder_price_plans:
            Annotations.of(self).add_warning_v2(
                "tollgate:placeholder-price",
                f"stripe_price_id is the placeholder {PLACEHOLDER_STRIPE_PRICE_ID!r} (plans: "
                f"{', '.join(settings.placeholder_price_plans)}): their sign-ups will fail until you set the real "
                "price id in cdk.json (make stripe-setup --plans prints the plans block to paste; with the single-plan "
                "settings, make stripe-setup prints the price id for stripe_price_id)",
            )

    @property
    def watched_functions(self) -> dict[str, PythonFunction]:
        """title -> the functions behind the API's routes (infra/operations.py alarms on their errors)."""
        return {"checkout": self.checkout, "Stripe webhook": self.stripe_webhook}

    def acknowledge_accounts_indexes(self, role: iam.IRole) -> None:
        """A role granted the accounts table reaches its GSIs (lookups by key, customer, subscription)."""
        acknowledge_wildcards(
            role,
            [f"Resource::{arn_of(self.accounts_table)}/index/*"],
            "The accounts table's lookups by key, customer and subscription are GSIs, only "
            "reachable as <table>/index/*.",
        )

    def _accounts_table(self) -> dynamodb.Table:
        table = on_demand_table(
            self,
            "AccountsTable",
            partition_key=contract.ACCOUNTS_PARTITION_KEY,
            ttl_attribute=contract.ACCOUNTS_TTL_ATTRIBUTE,
            backups=True,
            keep_on_delete=True,
            deletion_protection=True,
        )
        for index_name, attribute, kind in contract.ACCOUNTS_INDEXES:
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=attribute, type=_ATTRIBUTE_TYPES[kind]),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _route(self, gateway: Gateway) -> None:
        checkout = self.checkout.function
        gateway.add_function_route(
            contract.ROUTE_CHECKOUT,
            "POST",
            checkout,
            "The handler authorizes: it checks the presented x-api-key against the account's key.",
        )
        gateway.add_function_route(
            contract.ROUTE_CHECKOUT_OUTCOME,
            "POST",
            checkout,
            "Public by design: answers only a Checkout session's account status, to the page "
            "that holds the session id Stripe returned it with.",
        )
        gateway.add_function_route(
            contract.ROUTE_STRIPE_WEBHOOK,
            "POST",
            self.stripe_webhook.function,
            "Called by Stripe; the handler verifies the Stripe-Signature HMAC.",
        )
        gateway.add_site_routes(contract.HANDLER_CHECKOUT, checkout)

    def _add_outputs(self, gateway: Gateway) -> None:
        output_secret(
            self,
            "Stripe",
            self.stripe_secret,
            holds="the Stripe secret key and webhook signing secret",
            values="Stripe values",
            example={
                contract.SECRET_FIELD_STRIPE_SECRET_KEY: "sk_live_...",
                contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: "whsec_...",
            },
        )
        stack_output(
            self,
            "StripeWebhookUrl",
            gateway.url_for(contract.ROUTE_STRIPE_WEBHOOK),
            "Register this URL in Stripe with the events: " + ", ".join(contract.STRIPE_WEBHOOK_EVENTS),
        )
