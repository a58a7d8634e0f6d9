"""The sign-up feature: the register function behind POST /register (and the site's /api/register and
/api/signup/confirm) and the idempotency table it replays retried sign-ups from (docs/sign-up.md).

- The idempotency table only holds Powertools' short-lived records for POST /register, so it is
  destroyed with the stack.
- Least privilege: create/read/delete this deployment's API keys (infra/api_key_access.py: every key
  grant is conditioned on the owner tag), add/remove keys in this deployment's usage plans, read
  this stack's Stripe and Moesif secrets, read/write the accounts and idempotency tables and the key
  items (the new key's, removed on rollback; infra/authorizer.py's keys table). With
  customer accounts, it also sends the confirmation email and writes the access table
  (infra/customer_accounts.py grants those).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.billing_lifecycle import BillingLifecycle
from infra.functions import REGISTER_TIMEOUT, Functions
from infra.gateway import Gateway
from infra.operator_secrets import stack_output
from infra.tables import on_demand_table
from tollgate import contract


class SignUp(Construct):
    """The `register` function and the `idempotency_table`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        gateway: Gateway,
        billing: BillingLifecycle,
        keys_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.idempotency_table = on_demand_table(
            self,
            "IdempotencyTable",
            partition_key=contract.IDEMPOTENCY_PARTITION_KEY,
            ttl_attribute=contract.IDEMPOTENCY_TTL_ATTRIBUTE,
            backups=True,
            keep_on_delete=False,
        )
        functions.provide({contract.ENV_IDEMPOTENCY_TABLE: self.idempotency_table.table_name})
        self.register = functions.business(
            self,
            "Register",
            handler=contract.HANDLER_REGISTER,
            timeout=REGISTER_TIMEOUT,
            public=True,
            description="Tollgate POST /register: API key + Stripe subscription + Moesif user, or nothing",
        )
        role = self.register.role
        gateway.keys.grant_create(role)
        gateway.keys.grant_read(role)
        gateway.keys.grant_delete(role)
        gateway.keys.grant_plan_membership(role, attach=True, detach=True)
        billing.stripe_secret.grant_read(role)
        gateway.moesif_secret.grant_read(role)
        billing.accounts_table.grant_read_write_data(role)
        billing.acknowledge_accounts_indexes(role)
        self.idempotency_table.grant_read_write_data(role)
        keys_table.grant_read_write_data(role)  # the new key's item (removed on rollback)

        gateway.add_function_route(
            contract.ROUTE_REGISTER,
            "POST",
            self.register.function,
            "Public sign-up by design; method throttling and a body model guard it.",
        )
        gateway.add_site_routes(contract.HANDLER_REGISTER, self.register.function)
        stack_output(
            self,
            contract.STACK_OUTPUT_REGISTER_FUNCTION,
            self.register.function.function_name,
            'The register function, whose settings the ops commands read (make status ARGS="--stack <name>")',
        )
