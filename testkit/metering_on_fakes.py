"""The usage reporter function deployed on fakes (testkit.fake_metering), its clock in the test's hands: what the
reporter's handler tests and the bench drive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testkit.clock import Clock
from testkit.fake_metering import (
    LEDGER_BUCKET,
    FakeUsageEvidence,
    FakeUsageLedger,
    FakeUsageMeter,
    FakeUsageQueues,
    FakeUsageReports,
    s3_notification,
    sqs_event,
)
from testkit.fake_ports import TEST_PLANS
from testkit.fake_usage_counts import FakeUsageCounts
from tollgate import contract
from tollgate.domain.usage import LedgerObject

USAGE_REPORTER_MODULE = "tollgate.handlers.usage_reporter"


def usage_environment(function_environment: dict[str, str], billable_statuses: str = "2xx") -> dict[str, str]:
    """A function environment plus what the stack sets for usage metering."""
    return {
        **function_environment,
        contract.ENV_USAGE_LEDGER_BUCKET: LEDGER_BUCKET,
        contract.ENV_USAGE_REPORTS_TABLE: "tollgate-test-usage-reports",
        contract.ENV_USAGE_COUNTS_TABLE: "tollgate-test-usage-counts",
        contract.ENV_USAGE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/usage",
        contract.ENV_USAGE_DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters",
        contract.ENV_BILLABLE_STATUSES: billable_statuses,
    }


@dataclass
class MeteringOnFakes:
    """The usage reporter function with every port a fake, and its clock in the test's hands."""

    ledger: FakeUsageLedger
    meter: FakeUsageMeter
    reports: FakeUsageReports
    evidence: FakeUsageEvidence
    queues: FakeUsageQueues
    counts: FakeUsageCounts
    key_items: Any  # testkit.fake_ports.FakeKeyItems
    accounts: Any  # testkit.fake_ports.FakeAccounts
    metrics: Any  # testkit.fake_ports.FakeMetrics
    clock: Clock
    function: Any  # testkit.lambda_events.DeployedFunction

    @classmethod
    def create(cls, billable_statuses: str = "2xx", stripe_latency: float = 0.0) -> MeteringOnFakes:
        from testkit.fake_access import FakeMailer
        from testkit.fake_billing import FakeBilling
        from testkit.fake_ports import FakeAccounts, FakeApiKeys, FakeKeyItems, FakeKeyPools, FakeMetrics
        from testkit.lambda_events import FUNCTION_ENVIRONMENT, deployed
        from tollgate.domain.account_emails import AccountEmails
        from tollgate.domain.key_enforcement import KeyEnforcer
        from tollgate.domain.metering import UsageReporter
        from tollgate.domain.spend_watch import BillingPeriods, SpendCapRule, SpendMeter
        from tollgate.domain.usage import BillableStatuses
        from tollgate.domain.usage_alerts import UsageAlerts
        from tollgate.domain.usage_counting import UsageTally
        from tollgate.domain.usage_keys import UsageKeys
        from tollgate.domain.usage_limits import QuotaRule, UsageLimits

        clock = Clock()
        ledger, meter, reports = FakeUsageLedger(), FakeUsageMeter(clock, latency=stripe_latency), FakeUsageReports()
        evidence, queues, accounts, metrics = FakeUsageEvidence(), FakeUsageQueues(), FakeAccounts(), FakeMetrics()
        counts, key_items = FakeUsageCounts(), FakeKeyItems()
        spend = SpendMeter(counts, BillingPeriods(FakeBilling(), clock), meter.unit_price, clock)
        api_keys = FakeApiKeys()
        usage_keys = UsageKeys(api_keys, FakeKeyPools(), clock=clock, sleep=clock.sleep)
        limits = UsageLimits(
            accounts,
            KeyEnforcer(accounts, api_keys, key_items, TEST_PLANS, metrics, usage_keys, clock),
            TEST_PLANS,
            [QuotaRule(counts), SpendCapRule(spend)],
            clock,
        )
        alerts = UsageAlerts(
            accounts, FakeMailer(), AccountEmails("https://signup.example/", 86_400), TEST_PLANS, spend, clock
        )
        reporter = UsageReporter(
            ledger,
            accounts,
            meter,
            reports,
            evidence,
            UsageTally(counts),
            limits,
            alerts,
            BillableStatuses.parse(billable_statuses),
            TEST_PLANS,
            clock,
        )
        function = deployed(
            USAGE_REPORTER_MODULE,
            usage_environment(FUNCTION_ENVIRONMENT, billable_statuses),
            accounts=accounts,
            usage_ledger=ledger,
            usage_meter=meter,
            usage_reports=reports,
            usage_evidence=evidence,
            usage_queues=queues,
            usage_reporter=reporter,
            metrics=metrics,
            usage_counts=counts,
        )
        return cls(ledger, meter, reports, evidence, queues, counts, key_items, accounts, metrics, clock, function)

    def add_customer(
        self, api_key_id: str, customer_id: str, account_id: str | None = None, plan_id: str | None = None
    ) -> None:
        """An active account owning the key (its usage key), billed to the Stripe customer."""
        from tollgate.domain.account import Account, AccountStatus

        plan = TEST_PLANS.get(plan_id)
        self.accounts.rows[f"{api_key_id}@example.com"] = Account(
            email=f"{api_key_id}@example.com",
            status=AccountStatus.ACTIVE,
            api_key_id=api_key_id,
            customer_id=customer_id,
            account_id=account_id,
            plan_id=plan_id,
            price_id=plan.price_id if plan_id else None,
        )

    def deliver(self, *sources: LedgerObject, receive_count: int = 1) -> dict[str, Any]:
        """One SQS delivery of the objects' S3 events, one message each; the handler's answer."""
        from testkit.lambda_events import LambdaContext

        event = sqs_event(*(s3_notification(source) for source in sources), receive_count=receive_count)
        return self.function.handler(event, LambdaContext())
