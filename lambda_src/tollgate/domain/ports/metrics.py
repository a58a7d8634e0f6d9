"""Business metrics: what the stack's alarms and dashboard watch."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Metrics(ABC):
    """Business metrics (names in tollgate.contract.METRIC_*): what the stack's alarms and dashboard
    watch. Recording one never calls a service: the adapter prints them, once per invocation, in
    CloudWatch's embedded metric format (tollgate.metrics)."""

    @abstractmethod
    def count(self, name: str, value: float = 1) -> None:
        """Add `value` to the counter `name` for this invocation (a zero total is not published)."""

    @abstractmethod
    def level(self, name: str, value: float) -> None:
        """Publish the current level of `name` (a gauge: published even when 0)."""
