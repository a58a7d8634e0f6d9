"""A handler deployed on fakes only: every port, both secrets and the idempotency store are
in-memory fakes (testkit.fake_ports, testkit.fake_aws), so the unit tests exercise a handler's HTTP
contract through the same wiring a cold start builds, without any emulator."""

from __future__ import annotations

from testkit.account_settings import accounts_environment
from testkit.fake_aws import FakeIdempotencyStore, FakeSecretsManager
from testkit.fake_billing import FakePaymentMethods
from testkit.fake_credits import FakeCreditLedger, FakeCreditSales
from testkit.fake_ports import FakePorts
from testkit.lambda_events import FUNCTION_ENVIRONMENT, DeployedFunction, deployed
from testkit.metering_on_fakes import usage_environment
from testkit.world import World
from tollgate import contract
from tollgate.adapters.secrets import SecretStore

FAKE_STRIPE_SECRET = {
    contract.SECRET_FIELD_STRIPE_SECRET_KEY: "sk_test_fake",
    contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: "whsec_fake",
}
FAKE_MOESIF_SECRET = {contract.SECRET_FIELD_MOESIF_APPLICATION_ID: "moesif-fake"}


def deployed_on_fakes(
    module_name: str,
    ports: FakePorts | None = None,
    environment: dict[str, str] = FUNCTION_ENVIRONMENT,
    **replacements: object,
) -> DeployedFunction:
    """`module_name` deployed with `environment` (FUNCTION_ENVIRONMENT), its ports `ports` (fresh fakes by default)."""
    ports = ports or FakePorts.create()
    secrets_manager = FakeSecretsManager(
        {
            FUNCTION_ENVIRONMENT[contract.ENV_STRIPE_SECRET_ARN]: FAKE_STRIPE_SECRET,
            FUNCTION_ENVIRONMENT[contract.ENV_MOESIF_SECRET_ARN]: FAKE_MOESIF_SECRET,
        }
    )
    defaults = {
        "api_keys": ports.api_keys,
        "billing": ports.billing,
        "analytics": ports.analytics,
        "accounts": ports.accounts,
        "metrics": ports.metrics,
        "reconciler_runs": ports.reconciler_runs,
        "key_items": ports.key_items,
        "key_pools": ports.key_pools,
        "payment_methods": FakePaymentMethods(ports.billing),
        "stripe_secret": SecretStore(FUNCTION_ENVIRONMENT[contract.ENV_STRIPE_SECRET_ARN], secrets_manager),
        "moesif_secret": SecretStore(FUNCTION_ENVIRONMENT[contract.ENV_MOESIF_SECRET_ARN], secrets_manager),
        "idempotency_store": FakeIdempotencyStore(),
        "credit_ledger": FakeCreditLedger(),
        "credit_sales": FakeCreditSales(),
    }
    return deployed(module_name, environment, **(defaults | replacements))


def deployed_with_accounts(
    module_name: str, fakes: World, verify_email: bool = True, counts_usage: bool = False
) -> DeployedFunction:
    """`module_name` deployed as the stack deploys the functions serving customer accounts, on `fakes`,
    selling the world's plans; `counts_usage`: in a stack with usage_reporter=tollgate, whose usage counts
    decide limits."""
    environment = {
        **accounts_environment(FUNCTION_ENVIRONMENT, verify_email),
        contract.ENV_PLANS: fakes.plans.to_json(),
    }
    usage = {"usage_counts": fakes.counts, "usage_reports": fakes.reports} if counts_usage else {}
    return deployed_on_fakes(
        module_name,
        fakes.ports,
        usage_environment(environment) if counts_usage else environment,
        customer_access=fakes.access,
        mailer=fakes.mailer,
        account_billing=fakes.account_billing,
        usage_plan_usage=fakes.plan_usage,
        usage_evidence=fakes.evidence,
        usage_meter=fakes.meter,
        credit_ledger=fakes.credit_ledger,
        credit_sales=fakes.credit_sales,
        **usage,
    )
