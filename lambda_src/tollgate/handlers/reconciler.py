"""The scheduled reconciler's entry point: EventBridge Scheduler invokes it every
`reconcile_interval_minutes` (asynchronously, with no event of interest), and it runs one bounded
slice of tollgate.domain.reconciliation.Reconciler.

It stops taking new work DEADLINE_MARGIN_SECONDS before the function's timeout; the next run
resumes from the cursor the run saved. It logs one line per account it acted on (ids and statuses,
never a key), a summary line, and publishes metrics (tollgate.metrics): subscriptions examined,
accounts repaired, repairs failed, runs that ended before Stripe's listing did, and the heartbeat
contract.METRIC_RECONCILER_RUNS_SUCCEEDED, whose absence for two intervals sets an alarm off (a
run a failing service stopped, or one that could not start, is not a success). The Lambda request
id is the run id: a retried invocation repeats the same events, which apply once.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from tollgate import contract, wiring
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.lifecycle import Outcome
from tollgate.metrics import published_per_invocation

# Once started, a repair must finish inside the function: a Stripe read (12.5 s at worst, see
# stripe_client), a few DynamoDB writes (7.5 s each at worst) and two API Gateway calls (12 s each).
DEADLINE_MARGIN_SECONDS = 60
SERVICE = "tollgate-reconciler"

logger = Logger(service=SERVICE)


@published_per_invocation
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(_event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS
    current = wiring.current()
    try:
        run, repairs = current.reconciler.run(context.aws_request_id, deadline)
    except ConfigurationError as problem:  # a fresh deploy whose Stripe secret is not filled in yet
        logger.warning("Reconciler not configured yet; nothing was checked", extra={"reason": str(problem)})
        current.metrics.count(contract.METRIC_RECONCILER_RUNS_INCOMPLETE)
        return {"configured": False}
    for repair in repairs:
        ids = {"subscriptionId": repair.subscription_id, "stripeStatus": repair.stripe_status}
        if repair.outcome is Outcome.APPLIED:
            logger.info("Repaired an account Stripe disagreed with", extra=ids)
        elif repair.outcome is not None:
            logger.info("Left an account to a newer change", extra={**ids, "outcome": repair.outcome.value})
        else:
            logger.warning("Could not repair an account", extra={**ids, "reason": repair.problem})
    for name, value in (
        (contract.METRIC_SUBSCRIPTIONS_EXAMINED, run.examined),
        (contract.METRIC_ACCOUNTS_REPAIRED, run.repaired),
        (contract.METRIC_REPAIRS_FAILED, run.failed),
        (contract.METRIC_ORPHAN_SUBSCRIPTIONS_CANCELED, run.orphans_canceled),
        (contract.METRIC_RECONCILER_RUNS_INCOMPLETE, 0 if run.complete else 1),
        (contract.METRIC_RECONCILER_RUNS_SUCCEEDED, 1 if run.succeeded else 0),
    ):
        current.metrics.count(name, value)
    summary = {**asdict(run), "complete": run.complete}
    (logger.info if run.stopped_by is None else logger.warning)("Reconciler run finished", extra=summary)
    return summary
