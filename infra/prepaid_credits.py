"""Prepaid credits in the stack (issue 21; docs/prepaid-credits.md): the credits table, where each prepaid
account's credit is kept as append-only entries and a running balance moved only with them
(tollgate.adapters.dynamo_credit_ledger).

Backed up and kept when the stack is deleted: it is the record of money customers paid in advance.
Every function is told its name (the ops commands read it from any of them). Each function that uses it is
granted only its own actions: the Stripe webhook appends purchases (a Put conditioned on the entry's id and
an Update of the balance, in one transaction), the account page reads the balance and the entries.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import Functions
from infra.tables import on_demand_table
from tollgate import contract


class PrepaidCredits(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        webhook: iam.IGrantable,
        account_page: iam.IGrantable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = on_demand_table(
            self,
            "CreditsTable",
            partition_key=contract.CREDITS_PARTITION_KEY,
            sort_key=(contract.CREDITS_SORT_KEY, dynamodb.AttributeType.STRING),
            ttl_attribute=None,  # entries are the record of what was paid: they never expire
            backups=True,
            keep_on_delete=True,
            deletion_protection=True,
        )
        functions.provide({contract.ENV_CREDITS_TABLE: self.table.table_name})
        self.table.grant(webhook, "dynamodb:PutItem", "dynamodb:UpdateItem")  # purchases (domain.credit_purchases)
        self.table.grant(account_page, "dynamodb:GetItem", "dynamodb:Query")  # the balance and the entries
