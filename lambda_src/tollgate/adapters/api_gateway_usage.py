"""What the usage plan counted per API key (API Gateway's GetUsage): the gateway's side of
`make usage-report`, and the quota a key has left (the account page). Usage is kept per key and UTC
day; each day's `[used, remaining]` pair has the quota left in the key's current quota period."""

from __future__ import annotations

from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tollgate.adapters.aws_clients import downstream_error
from tollgate.ports import PlanUsage


class UsagePlanUsage(PlanUsage):
    """GetUsage of one usage plan through a boto3 `apigateway` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, usage_plan_id: str):
        self._client = client
        self._usage_plan_id = usage_plan_id
        self._quota: int | None = None  # the plan's quota, read once per process

    def quota_left(self, key_id: str, day: date) -> tuple[int, int]:
        try:
            if self._quota is None:
                self._quota = int(self._client.get_usage_plan(usagePlanId=self._usage_plan_id)["quota"]["limit"])
            page = self._client.get_usage(usagePlanId=self._usage_plan_id, keyId=key_id,
                                          startDate=day.isoformat(), endDate=day.isoformat())
        except (ClientError, BotoCoreError) as error:
            raise downstream_error("API Gateway", "read the key's quota", error) from None
        days = page.get("items", {}).get(key_id) or []
        return (int(days[-1][1]) if days else self._quota), self._quota

    def calls_by_key(self, first_day: date, last_day: date) -> dict[str, int]:
        """Calls each key made from `first_day` to `last_day`, both included (UTC days)."""
        calls: dict[str, int] = {}
        position: dict[str, str] = {}
        while True:
            try:
                page = self._client.get_usage(usagePlanId=self._usage_plan_id, startDate=first_day.isoformat(),
                                              endDate=last_day.isoformat(), **position)
            except (ClientError, BotoCoreError) as error:
                raise downstream_error("API Gateway", "read the usage plan's usage", error) from None
            for key_id, days in page.get("items", {}).items():
                calls[key_id] = calls.get(key_id, 0) + sum(used for used, _remaining in days)
            if not page.get("position"):
                return calls
            position = {"position": page["position"]}
