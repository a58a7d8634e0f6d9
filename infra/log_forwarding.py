"""Stage access logs -> Kinesis Data Firehose -> Moesif, with every record also kept in S3 (the usage ledger)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import access_log
from infra.nag import acknowledge, acknowledge_wildcards, arn_of
from tollgate import contract

# API Gateway only delivers access logs to streams whose name starts with this.
FIREHOSE_NAME_PREFIX = "amazon-apigateway-"
FAILED_RECORDS_RETENTION = Duration.days(30)
# Firehose's S3 backup buffers (at least 60 s, a minimum for S3 destinations) before it writes an
# object: the first step of the path from a call to Stripe (docs/usage-metering.md, "Freshness").
LEDGER_BUFFERING_INTERVAL = Duration.seconds(60)
# The ledger's hour folders, as Firehose writes them (a Java DateTimeFormatter pattern); the runtime
# reads them with strftime's contract.USAGE_LEDGER_HOUR_FORMAT (tests/infra compare the two).
LEDGER_HOUR_EXPRESSION = "!{timestamp:yyyy/MM/dd/HH}/"


class MoesifLogForwarding(Construct):
    """A Firehose delivery stream that ships the stage's access logs to Moesif's collector, and backs
    every record up to the usage ledger.

    Firehose authenticates to Moesif with the application id it reads from the Moesif secret's `api_key`
    field at delivery time (Firehose's Secrets Manager integration), so the id never appears in the
    template. Delivery errors are logged to CloudWatch.

    The HTTP destination's S3 backup runs in "all data" mode: every record lands, GZIP-compressed,
    in the ledger bucket under `ledger/<UTC hour>/`, independently of Moesif's delivery (which never
    waits on it), and records Moesif refused or that could not be delivered within the retry window
    also land under `failed/`, the error output prefix ("S3 backup bucket error output prefix - all
    failed data is backed up in this S3 bucket error output prefix",
    https://docs.aws.amazon.com/firehose/latest/dev/create-configure-backup.html). The ledger is the
    evidence behind every invoice line and what the usage reporter reads (infra/usage_metering.py):
    encrypted, private, TLS only, kept `ledger_retention_days` (`failed/` 30 days), and RETAINed
    when the stack is deleted. It exists with either usage_reporter, so switching never needs a
    backup mode Firehose may refuse to change back.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        collector_url: str,
        secret: secretsmanager.ISecret,
        stream_name_suffix: str,
        ledger_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)

        self.ledger_bucket = self._ledger_bucket(ledger_retention_days)
        self.error_log_group = logs.LogGroup(
            self,
            "DeliveryErrors",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )

        stream_name = f"{FIREHOSE_NAME_PREFIX}{Stack.of(self).stack_name}-{stream_name_suffix}".lower()
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=stream_name,
            encryption=firehose.StreamEncryption.aws_owned_key(),
            destination=firehose.HttpEndpoint(
                endpoint_config=firehose.HttpEndpointConfig(url=collector_url, name="Moesif", secret=secret),
                request_compression=firehose.HttpCompression.GZIP,
                buffering_hints=firehose.HttpBufferingHints(interval=Duration.seconds(60), size=Size.mebibytes(1)),
                retry_options=firehose.HttpRetryOptions(duration=Duration.minutes(5)),
                logging_config=firehose.EnableLogging(self.error_log_group),
                backup_mode=firehose.HttpBackupMode.ALL,
                s3_backup=firehose.DestinationS3BackupProps(
                    bucket=self.ledger_bucket,
                    compression=firehose.Compression.GZIP,
                    buffering_interval=LEDGER_BUFFERING_INTERVAL,
                    data_output_prefix=contract.USAGE_LEDGER_PREFIX + LEDGER_HOUR_EXPRESSION,
                    error_output_prefix=f"{contract.USAGE_LEDGER_FAILED_PREFIX}!{{firehose:error-output-type}}/"
                    + LEDGER_HOUR_EXPRESSION,
                    logging_config=firehose.EnableLogging(self.error_log_group),
                ),
            ),
        )

        acknowledge_wildcards(
            self.delivery_stream,
            [
                *(
                    f"Action::s3:{action}"
                    for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")
                ),
                f"Resource::{arn_of(self.ledger_bucket)}/*",
            ],
            "CDK's grant for Firehose's S3 backup: object actions on the ledger bucket only.",
        )
        # The Firehose L2 always adds a region -> Firehose CIDR mapping (for VPC destinations) to the stack.
        Validations.of(Stack.of(self)).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W7001",
                reason="Firehose's CIDR-block mapping is added by aws-cdk-lib and only used by VPC destinations.",
            )
        )

    def _ledger_bucket(self, retention_days: int) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "LedgerBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ledger", prefix=contract.USAGE_LEDGER_PREFIX, expiration=Duration.days(retention_days)
                ),
                s3.LifecycleRule(
                    id="failed", prefix=contract.USAGE_LEDGER_FAILED_PREFIX, expiration=FAILED_RECORDS_RETENTION
                ),
                # The evidence behind each invoice is kept as long as the ledger it is made from; a
                # period's download is remade on every request, so a day is plenty.
                s3.LifecycleRule(
                    id="evidence", prefix=contract.USAGE_EVIDENCE_PREFIX, expiration=Duration.days(retention_days)
                ),
                s3.LifecycleRule(
                    id="evidence-days",
                    prefix=contract.USAGE_EVIDENCE_DAYS_PREFIX,
                    expiration=Duration.days(retention_days),
                ),
                s3.LifecycleRule(
                    id="evidence-downloads",
                    prefix=contract.USAGE_EVIDENCE_DOWNLOADS_PREFIX,
                    expiration=Duration.days(contract.USAGE_EVIDENCE_DOWNLOAD_RETENTION_DAYS),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Only Firehose (the access-log records) and Tollgate's own functions (the evidence they derive) write "
            "here; server access logs would only record those writes and the functions' reads, at a cost, without "
            "audit value.",
        )
        return bucket

    @property
    def access_log_destination(self) -> apigw.FirehoseLogDestination:
        """What a stage's `access_log_destination` takes (API Gateway wants the L1 stream)."""
        return apigw.FirehoseLogDestination(self.delivery_stream.node.default_child)

    @staticmethod
    def access_log_format() -> apigw.AccessLogFormat:
        """Moesif's API Gateway fields, the user being the API key id (see infra/access_log.py)."""
        return apigw.AccessLogFormat.custom(access_log.format_string())
