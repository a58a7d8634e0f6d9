"""The scheduled reconciler's entry point: EventBridge Scheduler invokes it every
`reconcile_interval_minutes` (asynchronously, with no event of interest), and it runs one bounded
slice of tollgate.domain.reconciliation.Reconciler.

It stops taking new work DEADLINE_MARGIN_SECONDS before the function's timeout; the next run
resumes from the cursor the run saved. It logs one line per account it acted on (ids and statuses,
never a key), a summary line, and publishes CloudWatch metrics in the embedded metric format
(namespace contract.METRICS_NAMESPACE, dimension service): SubscriptionsExamined, AccountsRepaired,
RepairsFailed, and RunsIncomplete (1 when the run ended before Stripe's listing did). The Lambda
request id is the run id: a retried invocation repeats the same events, which apply once.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tollgate import contract, wiring
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.lifecycle import Outcome

# Once started, a repair must finish inside the function: a Stripe read (12.5 s at worst, see
# stripe_client), a few DynamoDB writes (7.5 s each at worst) and two API Gateway calls (12 s each).
DEADLINE_MARGIN_SECONDS = 60
SERVICE = "tollgate-reconciler"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=SERVICE)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(_event: dict, context: Any) -> dict:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS
    try:
        run, repairs = wiring.current().reconciler.run(context.aws_request_id, deadline)
    except ConfigurationError as problem:  # a fresh deploy whose Stripe secret is not filled in yet
        logger.warning("Reconciler not configured yet; nothing was checked", extra={"reason": str(problem)})
        metrics.add_metric(name="RunsIncomplete", unit=MetricUnit.Count, value=1)
        return {"configured": False}
    for repair in repairs:
        ids = {"subscriptionId": repair.subscription_id, "stripeStatus": repair.stripe_status}
        if repair.outcome is Outcome.APPLIED:
            logger.info("Repaired an account Stripe disagreed with", extra=ids)
        elif repair.outcome is not None:
            logger.info("Left an account to a newer change", extra={**ids, "outcome": repair.outcome.value})
        else:
            logger.warning("Could not repair an account", extra={**ids, "reason": repair.problem})
    metrics.add_metric(name="SubscriptionsExamined", unit=MetricUnit.Count, value=run.examined)
    metrics.add_metric(name="AccountsRepaired", unit=MetricUnit.Count, value=run.repaired)
    metrics.add_metric(name="RepairsFailed", unit=MetricUnit.Count, value=run.failed)
    metrics.add_metric(name="RunsIncomplete", unit=MetricUnit.Count, value=0 if run.complete else 1)
    summary = {**asdict(run), "complete": run.complete}
    (logger.info if run.stopped_by is None else logger.warning)("Reconciler run finished", extra=summary)
    return summary
