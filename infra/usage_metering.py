"""Usage reaches the invoice: new ledger objects -> S3 event -> SQS -> usage reporter -> Stripe meter.

Only with usage_reporter=tollgate. The feature owns the queues, the notification, the usage reports
table (whose names every function's environment carries, so any function tells the ops commands
where they are) and the reporter function.

- S3 announces every new object under `ledger/` on the usage queue (SSE, TLS only, 14-day
  retention). Moesif's delivery never waits on any of this: Firehose writes the backup itself.
- The reporter reads one object per invocation (batch size 1, ReportBatchItemFailures), so a slow
  or failing Stripe never makes one object wait on another, and each object's backoff is its own.
  At most MAX_CONCURRENCY run at once (the event source's maximum concurrency), each sending at most
  tollgate.domain.metering.PARALLEL_STRIPE_CALLS meter events at a time: far under Stripe's 1,000
  events per second.
- The queue's visibility timeout is six times the function's timeout, as AWS advises for SQS event
  sources (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); the reporter
  extends it per message as its backoff. After contract.USAGE_QUEUE_MAX_RECEIVES deliveries a
  message moves to the dead-letter queue (SSE, 14 days): `dead_letter_queue` is what an alarm
  watches; `make usage-redrive` re-sends from it.
- The usage reports table remembers each meter event sent (exactly once beyond Stripe's 24 h)
  and what each object came to; items expire after 35 days (TTL). It is RETAINed with the stack
  as the record of what Stripe was sent.

The evidence behind every invoice (tollgate.domain.evidence) lives in the ledger bucket: the reporter
writes one object per meter event under `evidence/<customer>/` and compacts each closed day into one
under `evidence-days/<customer>/` (list, read, write; delete a day's stale file); the account
function does the same for a day still missing, and writes a period's file under
`evidence-downloads/`, which it presigns (`grant_evidence_download`). IAM cannot narrow the account function to ONE customer's
prefix: one function serves every customer, and which one is known only from the session at run
time, so the code names the prefix (`S3UsageEvidence`, from the signed-in account's customer id)
and IAM bounds it to the evidence prefixes: ListBucket only with an `s3:prefix` under `evidence/` or
`evidence-days/` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/walkthrough1.html), GetObject
on the three evidence prefixes, PutObject on `evidence-days/*` and `evidence-downloads/*`,
DeleteObject on `evidence-days/*`; never the ledger.

The usage counts table (tollgate.domain.usage_counting) keeps each account's metered and billable
calls per UTC hour, each ledger object counted once; what a quota Tollgate enforces, a spend cap and
prepaid credits are decided from. Its items expire after contract.USAGE_COUNTS_RETENTION_SECONDS
(TTL); it is backed up (point-in-time recovery) and goes with the stack (the ledger, which it is
counted from, is what is retained).

Least privilege for the reporter: s3:GetObject on `ledger/*` of the ledger bucket (and the evidence
prefixes above), dynamodb:Query on the accounts table's byAccountId and byApiKeyId indexes (a ledger
record's caller -> its account), GetItem/PutItem/UpdateItem on the usage reports table, UpdateItem
and Query on the usage counts table, reading the Stripe secret, and consuming the usage queue (the
event source's grant, ChangeMessageVisibility included).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.billing_lifecycle import BillingLifecycle
from infra.functions import Functions, PythonFunction
from infra.nag import acknowledge, acknowledge_wildcards, arn_of
from infra.tables import on_demand_table
from tollgate import contract

REPORTER_TIMEOUT = Duration.seconds(120)
_EVIDENCE_PREFIXES = (
    contract.USAGE_EVIDENCE_PREFIX,
    contract.USAGE_EVIDENCE_DAYS_PREFIX,
    contract.USAGE_EVIDENCE_DOWNLOADS_PREFIX,
)
MAX_CONCURRENCY = 2  # the lowest maximum concurrency an SQS event source accepts
QUEUE_RETENTION = Duration.days(14)  # SQS's maximum


class UsageMetering(Construct):
    """The usage queue and its dead letters, the ledger's notification (the ledger is the gateway's
    access-log backup, infra/log_forwarding.py), the usage reports table and the `reporter` function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ledger_bucket: s3.IBucket,
        billable_statuses: str,
        functions: Functions,
        billing: BillingLifecycle,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ledger_bucket = ledger_bucket
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            visibility_timeout=Duration.seconds(6 * REPORTER_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=contract.USAGE_QUEUE_MAX_RECEIVES, queue=self.dead_letter_queue
            ),
        )
        ledger_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=contract.USAGE_LEDGER_PREFIX),
        )
        self.reports_table = on_demand_table(
            self,
            "ReportsTable",
            partition_key=contract.USAGE_REPORTS_PARTITION_KEY,
            ttl_attribute=contract.USAGE_REPORTS_TTL_ATTRIBUTE,
            backups=True,
            keep_on_delete=True,
        )
        self.reports_table.add_global_secondary_index(
            index_name=contract.USAGE_REPORTS_INDEX_PENDING,
            partition_key=dynamodb.Attribute(
                name=contract.USAGE_REPORTS_ATTR_PENDING, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT, type=dynamodb.AttributeType.NUMBER
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # The account page's usage this period: a customer's reports by the time of their latest call
        # (tollgate.adapters.dynamo_usage_reports.billable_calls); only the value is read from it.
        self.reports_table.add_global_secondary_index(
            index_name=contract.USAGE_REPORTS_INDEX_BY_CUSTOMER,
            partition_key=dynamodb.Attribute(
                name=contract.USAGE_REPORTS_ATTR_CUSTOMER_ID, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=contract.USAGE_REPORTS_ATTR_TIMESTAMP, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=["value"],
        )
        self.counts_table = on_demand_table(
            self,
            "CountsTable",
            partition_key=contract.USAGE_COUNTS_PARTITION_KEY,
            sort_key=(contract.USAGE_COUNTS_SORT_KEY, dynamodb.AttributeType.NUMBER),
            ttl_attribute=contract.USAGE_COUNTS_TTL_ATTRIBUTE,
            backups=True,
            keep_on_delete=False,
        )
        self._acknowledge_notification_handler()
        # What every function is told about usage metering (ops commands read it from any of them).
        functions.provide(
            {
                contract.ENV_USAGE_LEDGER_BUCKET: self.ledger_bucket.bucket_name,
                contract.ENV_USAGE_REPORTS_TABLE: self.reports_table.table_name,
                contract.ENV_USAGE_COUNTS_TABLE: self.counts_table.table_name,
                contract.ENV_USAGE_QUEUE_URL: self.queue.queue_url,
                contract.ENV_USAGE_DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url,
                contract.ENV_BILLABLE_STATUSES: billable_statuses,
            }
        )
        self.reporter = self._reporter(functions, billing.accounts_table, billing.stripe_secret)

    def _reporter(
        self, functions: Functions, accounts_table: dynamodb.ITable, stripe_secret: secretsmanager.ISecret
    ) -> PythonFunction:
        reporter = functions.business(
            self,
            "Reporter",
            handler=contract.HANDLER_USAGE_REPORTER,
            timeout=REPORTER_TIMEOUT,
            description="Tollgate usage reporter: new usage-ledger objects -> one Stripe meter event per customer",
        )
        reporter.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue, batch_size=1, report_batch_item_failures=True, max_concurrency=MAX_CONCURRENCY
            )
        )
        stripe_secret.grant_read(reporter.role)
        ledger, evidence, days = (
            self.ledger_bucket.arn_for_objects(f"{prefix}*")
            for prefix in (
                contract.USAGE_LEDGER_PREFIX,
                contract.USAGE_EVIDENCE_PREFIX,
                contract.USAGE_EVIDENCE_DAYS_PREFIX,
            )
        )
        for actions, resources in (
            (["s3:GetObject"], [ledger, evidence]),
            (["s3:PutObject"], [evidence, days]),
            (["s3:DeleteObject"], [days]),  # a day's file made stale by a late object (S3UsageEvidence)
            (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [self.reports_table.table_arn]),
            (["dynamodb:UpdateItem", "dynamodb:Query"], [self.counts_table.table_arn]),
            (
                ["dynamodb:Query"],
                [
                    f"{accounts_table.table_arn}/index/{index}"
                    for index in (contract.ACCOUNTS_INDEX_BY_ACCOUNT_ID, contract.ACCOUNTS_INDEX_BY_API_KEY_ID)
                ],
            ),
        ):
            reporter.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        self._grant_evidence_listing(reporter.role)
        acknowledge_wildcards(
            reporter.role,
            [
                f"Resource::{arn_of(self.ledger_bucket)}/{prefix}*"
                for prefix in (
                    contract.USAGE_LEDGER_PREFIX,
                    contract.USAGE_EVIDENCE_PREFIX,
                    contract.USAGE_EVIDENCE_DAYS_PREFIX,
                )
            ],
            "Ledger objects are named by Firehose at run time, evidence objects by the customer, meter event and day: "
            "reading is granted on the ledger/ and evidence/ prefixes, writing on the evidence prefixes only.",
        )
        return reporter

    def grant_evidence_download(self, role: iam.IRole) -> None:
        """The account function's share of the evidence (see the module docstring): list and read it,
        make a missing day's file, write and presign a period's file; nothing of the ledger itself."""
        evidence, days, downloads = (self.ledger_bucket.arn_for_objects(f"{prefix}*") for prefix in _EVIDENCE_PREFIXES)
        self._grant_evidence_listing(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[evidence, days, downloads])
        )
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[days, downloads]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[days]))
        acknowledge_wildcards(
            role,
            [f"Resource::{arn_of(self.ledger_bucket)}/{prefix}*" for prefix in _EVIDENCE_PREFIXES],
            "Evidence is named by customer at run time (one function serves every customer, known from the session): "
            "granted on the evidence prefixes only, never the ledger.",
        )

    def _grant_evidence_listing(self, role: iam.IRole) -> None:
        """ListBucket, only under the prefixes a customer's evidence and its days are listed by."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.ledger_bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [f"{contract.USAGE_EVIDENCE_PREFIX}*", f"{contract.USAGE_EVIDENCE_DAYS_PREFIX}*"]
                    }
                },
            )
        )

    def _acknowledge_notification_handler(self) -> None:
        """S3 notifications are configured by CDK's BucketNotificationsHandler (a custom resource that
        breaks the bucket <-> queue-policy cycle); its role is CDK's, used only at deploy time."""
        stack = Stack.of(self)
        handler = next(child for child in stack.node.children if child.node.id.startswith("BucketNotificationsHandler"))
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketNotificationsHandler, run at deploy time only to put the ledger bucket's notification "
            "configuration: its role (CloudWatch Logs for its own log lines) is CDK's.",
        )
