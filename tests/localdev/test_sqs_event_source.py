"""localdev/sqs_event_source.py: what Lambda's SQS event source does with the function's answer."""

from __future__ import annotations

import uuid

import pytest

from localdev.bootstrap import aws_client
from localdev.sqs_event_source import SqsEventSource


@pytest.fixture
def queue(emulators):
    sqs = aws_client("sqs", emulators)
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "0"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in ("keep", "done"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return sqs, url, arn


def remaining(sqs, url: str) -> list[str]:
    return sorted(
        message["Body"] for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    )


def test_messages_the_answer_lists_as_failures_stay_the_others_go(queue):
    sqs, url, arn = queue
    events = []

    def reporter(event):
        events.append(event)
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]} for record in event["Records"] if record["body"] == "keep"
            ]
        }

    assert SqsEventSource(sqs, url, arn, reporter).poll_once(wait_seconds=0) == 2

    (event,) = events
    assert {record["eventSourceARN"] for record in event["Records"]} == {arn}
    assert all(record["attributes"]["ApproximateReceiveCount"] == "1" for record in event["Records"])
    assert remaining(sqs, url) == ["keep"]


def test_a_failed_invocation_keeps_the_whole_batch(queue):
    sqs, url, arn = queue

    def failing(event):
        raise RuntimeError("the function crashed")

    SqsEventSource(sqs, url, arn, failing).poll_once(wait_seconds=0)

    assert remaining(sqs, url) == ["done", "keep"]
