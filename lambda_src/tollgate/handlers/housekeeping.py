"""The scheduled housekeeping's entry point: EventBridge Scheduler invokes it every
contract.HOUSEKEEPING_INTERVAL_MINUTES, and it runs tollgate.domain.housekeeping.Housekeeping once.

It logs each key it deleted or could not delete (ids only), what the pooled plans' keys lacked (never a
key's value), and a summary line, and publishes
(tollgate.metrics): the API keys of the region (contract.METRIC_API_KEYS_IN_REGION, on every run
that could count them: an alarm fires above 80 % of the quota, another when it has not been
published for two intervals), the failed rows, and the keys deleted or not.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from tollgate import contract, wiring
from tollgate.metrics import published_per_invocation

DEADLINE_MARGIN_SECONDS = 30  # a key deletion and its row write take a few seconds at worst

logger = Logger(service="tollgate-housekeeping")


@published_per_invocation
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(_event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS
    current = wiring.current()
    run = current.housekeeping.run(deadline)
    for deletion in run.deletions:
        ids = {"apiKeyId": deletion.api_key_id}
        if deletion.problem is None:
            logger.info("Deleted the API key of an account canceled past the retention", extra=ids)
        else:
            logger.warning(
                "Could not delete the API key of a canceled account", extra={**ids, "reason": deletion.problem}
            )
    if run.pools.problem or run.pools.missing:
        logger.warning(
            "Pooled usage keys are missing", extra={"shardsMissing": run.pools.missing, "reason": run.pools.problem}
        )
    metrics = current.metrics
    if run.keys_in_region is not None:
        metrics.level(contract.METRIC_API_KEYS_IN_REGION, run.keys_in_region)
    else:
        logger.warning("Could not count the API keys of the region", extra={"reason": run.count_problem})
    metrics.count(contract.METRIC_FAILED_ACCOUNTS, run.stuck_accounts)
    metrics.count(contract.METRIC_KEYS_DELETED, run.keys_deleted)
    metrics.count(contract.METRIC_KEY_DELETIONS_FAILED, run.deletions_failed)
    summary = {
        "keysInRegion": run.keys_in_region,
        "quota": contract.API_KEYS_PER_REGION,
        "failedAccounts": run.stuck_accounts,
        "keysDue": run.keys_due,
        "keysDeleted": run.keys_deleted,
        "deletionsFailed": run.deletions_failed,
        "poolKeysRecorded": run.pools.recorded,
        "poolKeysOrphanedDeleted": run.pools.orphans_deleted,
        "poolShardsMissing": run.pools.missing,
    }
    (logger.warning if run.stuck_accounts or run.deletions_failed or run.pools.missing else logger.info)(
        "Housekeeping run finished", extra=summary
    )
    return summary
