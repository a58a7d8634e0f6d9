"""The usage queues on SQS: the reporter delays a failed message's next delivery (backoff),
`make usage-redrive` reads and removes what landed in the dead-letter queue, and `make status`
shows how many wait in each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.usage import LedgerObject

_SERVICE = "SQS"
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit for ChangeMessageVisibility


@dataclass(frozen=True)
class QueuedMessage:
    receipt_handle: str
    body: str


@dataclass(frozen=True)
class QueueDepth:
    """SQS's approximate counts: messages waiting to be delivered, and delivered but not yet done."""

    waiting: int
    in_flight: int


class UsageQueues:
    """SQS through a boto3 `sqs` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any):
        self._client = client
        self._urls: dict[str, str] = {}

    def retry_later(self, queue_arn: str, receipt_handle: str, delay_seconds: int) -> None:
        """Make the message (delivered from `queue_arn`) visible again only after `delay_seconds`."""
        call_aws(
            _SERVICE,
            "delay the retry",
            self._client.change_message_visibility,
            QueueUrl=self._url(queue_arn),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=min(delay_seconds, MAX_VISIBILITY_SECONDS),
        )

    def receive(self, queue_url: str, hold_seconds: int) -> list[QueuedMessage]:
        """Up to 10 messages, hidden from other readers for `hold_seconds`."""
        answer = call_aws(
            _SERVICE,
            "read the dead-letter queue",
            self._client.receive_message,
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=1,
        )
        return [QueuedMessage(message["ReceiptHandle"], message["Body"]) for message in answer.get("Messages", [])]

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        call_aws(
            _SERVICE,
            "remove a redriven message",
            self._client.delete_message,
            QueueUrl=queue_url,
            ReceiptHandle=receipt_handle,
        )

    def depth(self, queue_url: str) -> QueueDepth:
        attributes = call_aws(
            _SERVICE,
            "read the queue's depth",
            self._client.get_queue_attributes,
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueDepth(
            int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])
        )

    def _url(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            *_, account, name = queue_arn.split(":")
            self._urls[queue_arn] = call_aws(
                _SERVICE,
                "find the usage queue",
                self._client.get_queue_url,
                QueueName=name,
                QueueOwnerAWSAccountId=account,
            )["QueueUrl"]
        return self._urls[queue_arn]


def ledger_objects_in(body: str) -> list[LedgerObject]:
    """The objects a usage queue message (an S3 event notification) announces; none for S3's
    `s3:TestEvent` (sent when notifications are configured). Keys arrive URL-encoded, `+` for a space
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    document = json.loads(body)
    return [
        LedgerObject(record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"]))
        for record in document.get("Records", [])
        if record.get("eventName", "").startswith("ObjectCreated")
    ]
