"""Stage access logs -> Kinesis Data Firehose -> Moesif, with failed records kept in S3."""

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

# API Gateway only delivers access logs to streams whose name starts with this.
FIREHOSE_NAME_PREFIX = "amazon-apigateway-"
FAILED_RECORDS_RETENTION = Duration.days(30)


class MoesifLogForwarding(Construct):
    """A Firehose delivery stream that ships the stage's access logs to Moesif's collector.

    Firehose authenticates to Moesif with the application id it reads from the Moesif secret's `api_key`
    field at delivery time (Firehose's Secrets Manager integration), so the id never appears in the
    template. Records Moesif rejects or that cannot be delivered within the retry window land,
    GZIP-compressed, in an encrypted, private bucket that forgets them after 30 days; delivery
    errors are logged to CloudWatch.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        collector_url: str,
        secret: secretsmanager.ISecret,
        stream_name_suffix: str,
        failed_records_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        self.failed_records_bucket = failed_records_bucket or self._failed_records_bucket()
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
                backup_mode=firehose.HttpBackupMode.FAILED,
                s3_backup=firehose.DestinationS3BackupProps(
                    bucket=self.failed_records_bucket,
                    compression=firehose.Compression.GZIP,
                    error_output_prefix="failed/",
                    logging_config=firehose.EnableLogging(self.error_log_group),
                ),
            ),
        )

        acknowledge_wildcards(
            self.delivery_stream,
            [
                *(f"Action::s3:{action}" for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")),
                f"Resource::{arn_of(self.failed_records_bucket)}/*",
            ],
            "CDK's grant for Firehose's S3 backup: object actions on the failed-records bucket only.",
        )
        # The Firehose L2 always adds a region -> Firehose CIDR mapping (for VPC destinations) to the stack.
        Validations.of(Stack.of(self)).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W7001",
                reason="Firehose's CIDR-block mapping is added by aws-cdk-lib and only used by VPC destinations.",
            )
        )

    def _failed_records_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "FailedRecordsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=FAILED_RECORDS_RETENTION)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Only Firehose writes here (records Moesif did not accept); server access logs would only "
            "record Firehose's own writes, at a cost, without audit value.",
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
