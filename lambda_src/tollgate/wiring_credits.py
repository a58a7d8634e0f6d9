"""The prepaid-credit part of tollgate.wiring.Wiring (issue 21; docs/prepaid-credits.md): the credit ledger, the
sale of credit packs through Stripe Checkout and the purchases service, built on first use like the rest.

A mixin of the one composition root, not a second one: Wiring inherits it, and it asks Wiring (through
`WiredForCredits`, what it needs of it) for the AWS clients, the settings, Stripe and the accounts store.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tollgate.adapters.aws_clients import AwsClients
    from tollgate.adapters.stripe_client import StripeClientForSecret
    from tollgate.config import RuntimeConfig
    from tollgate.domain.credit_purchases import CreditPurchases
    from tollgate.domain.ports.accounts import Accounts
    from tollgate.domain.ports.billing import CreditSales
    from tollgate.domain.ports.credits import CreditLedger


class WiredForCredits(Protocol):
    """What the credit part uses of the Wiring it is part of."""

    config: RuntimeConfig

    @property
    def aws(self) -> AwsClients: ...

    @property
    def stripe(self) -> StripeClientForSecret: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def credit_ledger(self) -> CreditLedger: ...

    @property
    def credit_sales(self) -> CreditSales: ...


class CreditWiring:
    @cached_property
    def credit_ledger(self: WiredForCredits) -> CreditLedger:
        from tollgate.adapters.dynamo_credit_ledger import DynamoCreditLedger

        return DynamoCreditLedger(self.aws.client("dynamodb"), self.config.credits_table)

    @cached_property
    def credit_sales(self: WiredForCredits) -> CreditSales:
        from tollgate.adapters.stripe_credit_sales import StripeCreditSales

        return StripeCreditSales(self.stripe)

    @cached_property
    def credit_purchases(self: WiredForCredits) -> CreditPurchases:
        from tollgate.domain.credit_purchases import CreditPurchases
        from tollgate.domain.credits import CreditBook

        return CreditPurchases(self.accounts, self.credit_sales, CreditBook(self.credit_ledger), self.config.plans)
