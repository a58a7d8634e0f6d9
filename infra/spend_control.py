"""Usage alerts and spend caps (issue 21; tollgate.domain.spend_watch, usage_alerts, spend_choices).

Only with usage_reporter=tollgate: both are measured from the usage counts the reporter keeps. This
feature adds no resource, only what its two functions may do beyond their own features' grants:
- the usage reporter emails the alerts its counts cross (ses:SendEmail from `email_sender` only, as
  the functions serving customer accounts do); it already reads Stripe (the subscription's billing
  period) and writes the rows' and key items' limits (infra/usage_limits.py);
- the account function decides the limit again as soon as a customer changes their cap, from the
  account's counts (dynamodb:Query on the usage counts table, nothing else of it); it already reads
  and writes the rows and key items.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.customer_accounts import CustomerAccounts
from infra.usage_metering import UsageMetering


class SpendControl(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, usage_metering: UsageMetering, customer_accounts: CustomerAccounts
    ) -> None:
        super().__init__(scope, construct_id)
        customer_accounts.grant_send_email(usage_metering.reporter.role)
        customer_accounts.account.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[usage_metering.counts_table.table_arn])
        )
