"""Lambda's SQS event source mapping, locally: what hands the usage queue's messages to the usage
reporter in `make dev` (and in the integration tests, one poll at a time).

As Lambda does with ReportBatchItemFailures: it receives up to 10 messages, invokes the function
with them in Lambda's SQS event shape, deletes the messages the answer does not list in
`batchItemFailures`, and leaves the listed ones in the queue, where they come back once their
visibility timeout (which the function may have extended: the reporter's backoff) runs out, and
move to the dead-letter queue after the queue's maxReceiveCount. An invocation that raises leaves
every message of the batch, as a failed Lambda invocation does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BATCH_SIZE = 10
POLL_WAIT_SECONDS = 1


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's event for messages as ReceiveMessage returns them (with AttributeNames=All)."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class SqsEventSource:
    """Feeds `queue_url`'s messages to `invoke` (a function taking Lambda's event, returning its answer)."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, invoke: Callable[[dict[str, Any]], Any]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._invoke = invoke
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-event-source", daemon=True)

    def poll_once(self, wait_seconds: int = POLL_WAIT_SECONDS) -> int:
        """One receive and, if it got messages, one invocation; how many messages were handed over."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        try:
            answer = self._invoke(lambda_sqs_event(messages, self._queue_arn))
        except Exception:
            log.exception("the usage reporter failed; its %d message(s) stay in the queue", len(messages))
            return len(messages)
        failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def start(self) -> SqsEventSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=POLL_WAIT_SECONDS + 5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                if not self._stopping.wait(POLL_WAIT_SECONDS):
                    log.warning("polling the usage queue failed; retrying", exc_info=True)
