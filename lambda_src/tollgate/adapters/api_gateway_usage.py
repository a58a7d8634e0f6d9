"""What the usage plans counted per API key (API Gateway's GetUsage): the gateway's side of
`make usage-report`, and the quota an account's usage key has left (the account page). Usage is kept
per key and UTC day; each day's `[used, remaining]` pair has the quota left in the key's current
quota period (https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.ports.keys import PlanUsage
from tollgate.plans import Plan

_SERVICE = "API Gateway"


class UsagePlanUsage(PlanUsage):
    """GetUsage of the deployment's usage plans through a boto3 `apigateway` client (see
    aws_clients.AwsClients)."""

    def __init__(self, client: Any, usage_plan_ids: tuple[str, ...]):
        self._client = client
        self._usage_plan_ids = usage_plan_ids

    def quota_left(self, key_id: str, plan: Plan, day: date) -> tuple[int, int]:
        page = call_aws(
            _SERVICE,
            "read the key's quota",
            self._client.get_usage,
            usagePlanId=plan.usage_plan_id,
            keyId=key_id,
            startDate=day.isoformat(),
            endDate=day.isoformat(),
        )
        days = page.get("items", {}).get(key_id) or []
        return (int(days[-1][1]) if days else plan.quota_limit), plan.quota_limit

    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        calls: dict[str, int] = {}
        for usage_plan_id in self._usage_plan_ids:
            position: dict[str, Any] = {}  # {"position": token} once there is a next page
            while True:
                page = call_aws(
                    _SERVICE,
                    "read the usage plan's usage",
                    self._client.get_usage,
                    usagePlanId=usage_plan_id,
                    startDate=first_day.isoformat(),
                    endDate=last_day.isoformat(),
                    **position,
                )
                for key_id, days in page.get("items", {}).items():
                    calls[key_id] = calls.get(key_id, 0) + sum(used for used, _remaining in days)
                if not page.get("position"):
                    break
                position = {"position": page["position"]}
        return calls
