"""Issue 10: `make usage-redrive` (ops/usage_redrive.py) on moto + the Stripe bridge: dead letters
are re-sent exactly once, and a report pending past Stripe's 24 h is only sent when the operator
says so."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
import stripe

from ops.usage_redrive import main
from testkit.commands import run_command
from testkit.fake_metering import call_record, ledger_bytes, ledger_key, s3_notification
from testkit.moto_stack import MotoStack
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_usage_reports import DynamoUsageReports
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.metering import meter_event_identifier
from tollgate.domain.usage import STRIPE_DEDUP_WINDOW_SECONDS, LedgerObject, MeterReport


@pytest.fixture
def environment(aws, stripe_api, moesif_collector, price_id) -> dict[str, str]:
    return aws.environment(stripe_api, moesif_collector.base_url, price_id)


@pytest.fixture
def customer(aws: MotoStack, stripe_client: stripe.StripeClient) -> tuple[str, str]:
    key_id = f"key{uuid.uuid4().hex[:10]}"
    customer_id = stripe_client.v1.customers.create(params={"email": f"{key_id}@example.com"}).id
    DynamoAccounts(AwsClients().client("dynamodb"), aws.accounts_table).create(
        Account(email=f"{key_id}@example.com", status=AccountStatus.ACTIVE, api_key_id=key_id, customer_id=customer_id)
    )
    return key_id, customer_id


def run(*argv: str, environ: dict[str, str]) -> tuple[int, str]:
    return run_command(main, argv, environ=environ)


def units(stripe_bridge, customer_id: str) -> int:
    return sum(
        int(event["payload"]["value"])
        for event in stripe_bridge.state.meters.events
        if event["payload"].get("stripe_customer_id") == customer_id
    )


def dead_letter(aws: MotoStack, key_id: str, calls: int) -> LedgerObject:
    """What SQS leaves in the dead-letter queue after 12 failed deliveries of a ledger object."""
    source = LedgerObject(aws.usage.ledger_bucket, ledger_key())
    boto3.client("s3").put_object(
        Bucket=source.bucket, Key=source.key, Body=ledger_bytes([call_record(key_id) for _ in range(calls)])
    )
    boto3.client("sqs").send_message(QueueUrl=aws.usage.dead_letter_queue_url, MessageBody=s3_notification(source))
    return source


def test_dead_letters_are_re_sent_once_and_removed(aws, environment, customer, stripe_bridge):
    key_id, customer_id = customer
    source = dead_letter(aws, key_id, calls=5)

    status, output = run(environ=environment)
    boto3.client("sqs").send_message(QueueUrl=aws.usage.dead_letter_queue_url, MessageBody=s3_notification(source))
    again, output_again = run(environ=environment)

    assert (status, again) == (0, 0)
    assert f"{source}: 5 billable call(s), 5 billed to 1 customer(s): 1 meter event(s) sent" in output
    assert "0 meter event(s) sent, 1 already reported" in output_again
    assert units(stripe_bridge, customer_id) == 5
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.usage.dead_letter_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_a_report_pending_past_24_hours_is_listed_and_sent_only_when_assumed_unreported(
    aws, environment, customer, stripe_bridge
):
    _, customer_id = customer
    source = LedgerObject(aws.usage.ledger_bucket, ledger_key())
    report = MeterReport(
        meter_event_identifier(source, customer_id, None), customer_id, 4, int(time.time()) - 90_000, source, ""
    )
    reports = DynamoUsageReports(AwsClients().client("dynamodb"), aws.usage.reports_table)
    reports.mark_pending(report, now=int(time.time()) - STRIPE_DEDUP_WINDOW_SECONDS - 3600)  # the answer was lost

    listed, listing = run(environ=environment)
    sent, sending = run("--assume-unreported", environ=environment)
    after, _ = run(environ=environment)

    assert listed == 1 and f"  {customer_id}  4 unit(s)" in listing and "--assume-unreported" in listing
    assert sent == 0 and f"{report.identifier}  sent" in sending
    assert after == 0
    assert units(stripe_bridge, customer_id) == 4
