"""The reconciler's run record: where the next run resumes, and what operators see of the last one
(`make status`). Its own port: the reconciler's bookkeeping is not an account."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.models import ReconcilerRun


class ReconcilerRuns(ABC):
    """The latest reconciler run, kept whole (one record, replaced by each run)."""

    @abstractmethod
    def last(self) -> ReconcilerRun | None:
        """The record the latest run left, if any."""

    @abstractmethod
    def save(self, run: ReconcilerRun) -> None:
        """Keep `run` as the latest (replacing the one before)."""
