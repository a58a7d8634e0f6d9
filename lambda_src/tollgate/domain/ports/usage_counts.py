"""The usage counts table: per account and UTC hour, what the usage ledger's objects held."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.usage_counting import HourCounts, PeriodUsage


class UsageCounts(ABC):
    """Each ledger object's calls added to its accounts' hours exactly once: the object's tag is kept
    in the hour's set in the same conditional write that adds its counts, so a redelivered object, or
    two deliveries processed at once, never count twice (tollgate.domain.usage_counting)."""

    @abstractmethod
    def add(self, counts: HourCounts) -> bool:
        """Add `counts` to its account's hour, unless its source was added there before (False)."""

    @abstractmethod
    def period_usage(self, account_id: str, start: int, end: int) -> PeriodUsage:
        """The account's counts summed over the hours starting in [start, end) (epoch seconds; one Query)."""
