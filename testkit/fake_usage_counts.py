"""The usage counts table in memory (tests/contract/test_usage_counts.py holds it to DynamoUsageCounts'
behaviour): per (account, UTC hour), the counts and the tags of the objects counted into it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from testkit.faults import FaultyFake
from tollgate.domain.ports.usage_counts import UsageCounts
from tollgate.domain.usage_counting import HourCounts, PeriodUsage


@dataclass
class HourItem:
    metered: int = 0
    billable: int = 0
    billed: Counter[str] = field(default_factory=Counter)
    objects: set[str] = field(default_factory=set)


class FakeUsageCounts(FaultyFake, UsageCounts):
    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hours: dict[tuple[str, int], HourItem] = {}

    def add(self, counts: HourCounts) -> bool:
        with self._call("add", counts.account_id, counts.hour), self._lock:
            item = self.hours.setdefault((counts.account_id, counts.hour), HourItem())
            if counts.source_tag in item.objects:
                return False
            item.objects.add(counts.source_tag)
            item.metered += counts.metered
            item.billable += counts.billable
            item.billed.update(counts.billed)
            return True

    def period_usage(self, account_id: str, start: int, end: int) -> PeriodUsage:
        with self._call("period_usage", account_id), self._lock:
            items = [
                item for (account, hour), item in self.hours.items() if account == account_id and start <= hour < end
            ]
            billed: Counter[str] = Counter()
            for item in items:
                billed.update(item.billed)
            return PeriodUsage(sum(item.metered for item in items), sum(item.billable for item in items), dict(billed))
