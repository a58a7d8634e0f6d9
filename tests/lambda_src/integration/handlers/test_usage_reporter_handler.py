"""Issue 10: the usage reporter on the real path, offline: a ledger object written to S3 (moto) is
announced by S3's own event notification on the usage queue (moto SQS), handed to the handler as
Lambda's SQS event source does (localdev.sqs_event_source), and reaches the Stripe meter (the
bridge) through the real adapters."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
import stripe

from localdev.sqs_event_source import SqsEventSource
from testkit.fake_metering import call_record, ledger_bytes, ledger_key, s3_notification
from testkit.lambda_events import DeployedFunction, LambdaContext, deployed
from testkit.metering_on_fakes import USAGE_REPORTER_MODULE
from testkit.moto_stack import MotoStack
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.usage import LedgerObject


@pytest.fixture(scope="module")
def reporter(aws: MotoStack, stripe_api: str, moesif_collector, price_id: str) -> DeployedFunction:
    return deployed(USAGE_REPORTER_MODULE, aws.environment(stripe_api, moesif_collector.base_url, price_id))


@pytest.fixture(scope="module")
def queue(aws: MotoStack, reporter: DeployedFunction) -> SqsEventSource:
    return SqsEventSource(
        boto3.client("sqs"),
        aws.usage.queue_url,
        aws.usage.queue_arn,
        lambda event: reporter.handler(event, LambdaContext()),
    )


def drain(queue: SqsEventSource) -> None:
    while queue.poll_once(wait_seconds=0):
        pass


def customer_with_key(aws: MotoStack, stripe_client: stripe.StripeClient) -> tuple[str, str]:
    key_id = f"key{uuid.uuid4().hex[:10]}"
    customer = stripe_client.v1.customers.create(params={"email": f"{key_id}@example.com"})
    DynamoAccounts(boto3.client("dynamodb"), aws.accounts_table).create(
        Account(email=f"{key_id}@example.com", status=AccountStatus.ACTIVE, api_key_id=key_id, customer_id=customer.id)
    )
    return key_id, customer.id


def put_ledger_object(aws: MotoStack, lines: list[str]) -> LedgerObject:
    source = LedgerObject(aws.usage.ledger_bucket, ledger_key())
    boto3.client("s3").put_object(Bucket=source.bucket, Key=source.key, Body=ledger_bytes(lines))
    return source


def units_in_stripe(reporter: DeployedFunction, customer_id: str) -> float:
    now = int(time.time())
    minute = now - now % 60
    return reporter.wiring.usage_meter.reported_units(
        customer_id, reporter.wiring.config.plans.default.price_id, minute - 3600, minute + 60
    )


def test_a_ledger_object_reaches_the_stripe_meter_through_s3_events_and_sqs(aws, reporter, queue, stripe_client):
    drain(queue)  # S3's s3:TestEvent from setting the notification up
    key_id, customer_id = customer_with_key(aws, stripe_client)
    source = put_ledger_object(aws, [call_record(key_id) for _ in range(7)] + [call_record(key_id, status=500)])

    drain(queue)

    assert units_in_stripe(reporter, customer_id) == 7
    summary = reporter.wiring.usage_reports.summary(source)
    assert (summary.records, summary.billable, summary.billed, summary.customers) == (8, 7, 7, 1)


def test_a_redelivered_notification_bills_nothing_twice(aws, reporter, queue, stripe_client):
    key_id, customer_id = customer_with_key(aws, stripe_client)
    source = put_ledger_object(aws, [call_record(key_id) for _ in range(3)])
    drain(queue)

    boto3.client("sqs").send_message(QueueUrl=aws.usage.queue_url, MessageBody=s3_notification(source))
    drain(queue)

    assert units_in_stripe(reporter, customer_id) == 3


def test_a_message_that_failed_is_kept_and_hidden_for_the_backoff(aws, queue):
    sqs = boto3.client("sqs")
    missing = LedgerObject(aws.usage.ledger_bucket, ledger_key())  # announced, but not (or no longer) there
    sqs.send_message(QueueUrl=aws.usage.queue_url, MessageBody=s3_notification(missing))

    assert queue.poll_once(wait_seconds=0) == 1
    assert queue.poll_once(wait_seconds=0) == 0  # invisible for the first backoff step (60 s)

    attributes = sqs.get_queue_attributes(QueueUrl=aws.usage.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.purge_queue(QueueUrl=aws.usage.queue_url)
