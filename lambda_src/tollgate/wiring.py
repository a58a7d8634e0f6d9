"""Which adapter serves which port: the one place every entry point (the register, checkout and
Stripe webhook handlers, the failed-accounts command) builds its service from its settings and
secret."""

from __future__ import annotations

from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.aws_clients import aws_client
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.moesif_analytics import MoesifAnalytics
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_checkout import StripePaymentSetup
from tollgate.adapters.stripe_client import stripe_client
from tollgate.config import RuntimeConfig
from tollgate.domain.checkout import PaymentMethodCheckout
from tollgate.domain.lifecycle import LifecycleService
from tollgate.domain.registration import RegistrationService


def api_keys_for(config: RuntimeConfig) -> ApiGatewayKeys:
    return ApiGatewayKeys(aws_client("apigateway"), config.usage_plan_id)


def accounts_for(config: RuntimeConfig) -> DynamoAccounts:
    return DynamoAccounts(aws_client("dynamodb"), config.accounts_table)


def registration_service(
    config: RuntimeConfig,
    stripe_secret_key: str,
    moesif_application_id: str,
    api_keys: ApiGatewayKeys,
    accounts: DynamoAccounts,
) -> RegistrationService:
    return RegistrationService(
        api_keys,
        StripeBilling(stripe_client(stripe_secret_key, config.stripe_api_base), config.stripe_price_id),
        MoesifAnalytics(moesif_application_id, config.moesif_api_base),
        accounts,
        require_payment_method=config.require_payment_method,
    )


def lifecycle_service(
    config: RuntimeConfig, stripe_secret_key: str, api_keys: ApiGatewayKeys, accounts: DynamoAccounts
) -> LifecycleService:
    return LifecycleService(accounts, api_keys, StripePaymentSetup(stripe_client(stripe_secret_key, config.stripe_api_base)))


def payment_method_checkout(
    config: RuntimeConfig, stripe_secret_key: str, api_keys: ApiGatewayKeys, accounts: DynamoAccounts
) -> PaymentMethodCheckout:
    payments = StripePaymentSetup(stripe_client(stripe_secret_key, config.stripe_api_base))
    return PaymentMethodCheckout(accounts, api_keys, payments, config.signup_url)
