"""The scheduled key retirement (EventBridge Scheduler, infra/customer_accounts.py): every rotated-out
key whose grace is over is marked retired in the keys table (with a TTL) and on the account row
(tollgate.domain.account_keys): no API Gateway call, the account's usage key stays.
A key that cannot be retired now is counted and tried again next run; Lambda does not retry a run."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from tollgate import wiring

logger = Logger(service="tollgate-key-retirement")


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    run = wiring.current().account_keys.retire_due()
    (logger.warning if run.failed else logger.info)("Key retirement run", extra=asdict(run))
    return asdict(run)
