"""The usage reporter: SQS messages announcing new usage-ledger objects (S3 event notifications)
become Stripe meter events, through tollgate.domain.metering.UsageReporter (exactly once per
object and customer).

A message whose usage could not all be reported is handed back to SQS (a batch item failure; the
others of the batch are done) with its next delivery delayed exponentially with its receive
count: 1 min, 2, 4, ... capped at 1 h (`retry_delay_seconds`). While Stripe is down or throttling,
usage waits and is retried instead of hammering it; after contract.USAGE_QUEUE_MAX_RECEIVES
deliveries (about 7 h) SQS moves the message to the dead-letter queue, which an alarm can watch and
`make usage-redrive` re-sends from.

Metrics (tollgate.metrics, names contract.METRIC_*): ledger objects, billable calls, usage units
Stripe accepted, meter events sent and already reported, calls of keys no account owns (kept in the
ledger, not billed), malformed records, reports pending past Stripe's 24 h window (for the operator)
and usage report failures (an alarm watches them, and the dead-letter queue).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tollgate import contract, wiring
from tollgate.adapters.sqs_usage_queues import ledger_objects_in
from tollgate.domain.errors import TollgateError
from tollgate.domain.metering import BatchOutcome, Delivery
from tollgate.domain.ports.metrics import Metrics
from tollgate.metrics import published_per_invocation

RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 3600

logger = Logger(service="tollgate-usage-reporter")
# A batch whose every message failed is answered like any other (each one listed as a failure), so
# the delays set below hold instead of Lambda retrying the whole batch at once.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def retry_delay_seconds(receive_count: int) -> int:
    """How long a message whose usage failed stays invisible: doubles with every delivery, 1 h at most."""
    delay: int = RETRY_BASE_SECONDS * 2 ** max(receive_count - 1, 0)  # (int ** int is typed Any: it can be a float)
    return min(delay, RETRY_CAP_SECONDS)


def _report(record: SQSRecord) -> None:
    current = wiring.current()
    sources = ledger_objects_in(record.body)
    current.metrics.count(contract.METRIC_LEDGER_OBJECTS, len(sources))
    try:
        for source in sources:
            _publish(current.usage_reporter.report_object(source), current.metrics)
    except TollgateError as problem:
        receive_count = int(record.attributes.approximate_receive_count)
        delay = retry_delay_seconds(receive_count)
        current.metrics.count(contract.METRIC_USAGE_REPORT_FAILURES)
        logger.warning(
            "Usage not reported yet; it will be retried",
            extra={
                "messageId": record.message_id,
                "reason": str(problem),
                "receiveCount": receive_count,
                "retryInSeconds": delay,
            },
        )
        try:
            current.usage_queues.retry_later(record.event_source_arn, record.receipt_handle, delay)
        except TollgateError as unchanged:
            logger.warning(
                "Could not delay the retry; the queue's visibility timeout applies", extra={"reason": str(unchanged)}
            )
        raise


def _publish(outcome: BatchOutcome, metrics: Metrics) -> None:
    summary = outcome.summary
    for name, value in (
        (contract.METRIC_BILLABLE_CALLS, summary.billable),
        (contract.METRIC_USAGE_UNITS_REPORTED, outcome.units_sent),
        (contract.METRIC_METER_EVENTS_SENT, outcome.count(Delivery.SENT)),
        (contract.METRIC_METER_EVENTS_ALREADY_REPORTED, outcome.count(Delivery.ALREADY_REPORTED)),
        (contract.METRIC_UNKNOWN_KEY_CALLS, sum(summary.unknown_keys.values())),
        (contract.METRIC_MALFORMED_RECORDS, summary.malformed),
        (contract.METRIC_AMBIGUOUS_REPORTS, summary.ambiguous),
    ):
        metrics.count(name, value)
    logger.info(
        "Ledger object reported",
        extra={
            "object": str(summary.source),
            "records": summary.records,
            "billable": summary.billable,
            "customers": summary.customers,
            "sent": outcome.count(Delivery.SENT),
        },
    )
    if summary.unknown_keys:
        logger.warning(
            "Calls of API keys no account owns: not billed, kept in the ledger",
            extra={"object": str(summary.source), "unknownKeys": summary.unknown_keys},
        )
    if summary.malformed:
        logger.warning(
            "Malformed ledger records skipped", extra={"object": str(summary.source), "malformed": summary.malformed}
        )
    for error in outcome.compaction_failures:
        logger.warning(
            "Could not compact a customer's closed days of evidence: retried with their next object; "
            "a download compacts what is missing",
            extra={"error": str(error)},
        )
    for record in outcome.ambiguous:
        logger.error(
            "Usage report still pending after Stripe's 24 h de-duplication window: not re-sent; "
            "list and resolve with make usage-redrive",
            extra={
                "identifier": record.report.identifier,
                "customerId": record.report.customer_id,
                "value": record.report.value,
                "object": str(summary.source),
            },
        )


@published_per_invocation
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_report, processor=processor, context=context)
