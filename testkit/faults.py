"""Failure switches, latency and call recording shared by every fake (testkit.fake_ports,
testkit.fake_aws): a fake can fail at its Nth call (or from the Nth on), before or after acting
(an answer lost after the service acted), add a fixed latency, and record every call with its
timing for the benchmark's critical-path figure.

    keys = FakeApiKeys()
    keys.fail("delete_key")                   # the first delete raises DownstreamError
    keys.fail("create_key", on_call=2, times=None)  # every create from the second one fails
    billing.fail("create_customer", answer_lost=True)  # creates the customer, then times out
    FakeBilling(latency=0.05, recorder=recorder)    # 50 ms per call, timings in `recorder`
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tollgate.domain.errors import DownstreamError


@dataclass(frozen=True)
class CallRecord:
    port: str
    method: str
    started: float
    ended: float


@dataclass
class CallRecorder:
    """Timings of every call across fakes (the benchmark derives the critical path from them)."""

    records: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def longest_sequential_chain(self) -> int:
        """The largest number of calls that ran strictly one after another: the external
        round trips on the critical path."""
        records = sorted(self.records, key=lambda record: record.ended)
        chain: list[int] = []
        for index, record in enumerate(records):
            before = [chain[i] for i in range(index) if records[i].ended <= record.started]
            chain.append(1 + max(before, default=0))
        return max(chain, default=0)


@dataclass
class _Failure:
    on_call: int
    times: int | None  # None: every call from `on_call` on
    error: Exception
    answer_lost: bool  # the call takes effect before raising (a timeout after the server acted)


class FaultyFake:
    """Failure switches, latency and call log shared by every fake."""

    port = "fake"

    def __init__(self, *, latency: float = 0.0, recorder: CallRecorder | None = None):
        self.latency = latency
        self.recorder = recorder
        self.calls: list[tuple[str, tuple]] = []
        self._counts: Counter[str] = Counter()
        self._failures: dict[str, _Failure] = {}
        self._lock = threading.RLock()

    def fail(
        self,
        method: str,
        *,
        on_call: int = 1,
        times: int | None = 1,
        error: Exception | None = None,
        answer_lost: bool = False,
    ) -> None:
        """Make `method` raise `error` (a retryable DownstreamError by default) on its
        `on_call`-th call, for `times` calls (None: for good); with `answer_lost`, only after the
        call took effect, as when a service acts but its answer times out."""
        if not callable(getattr(self, method, None)):
            raise AttributeError(f"{type(self).__name__} has no method {method}")
        self._failures[method] = _Failure(
            on_call, times, error or DownstreamError(self.port, f"injected failure in {method}"), answer_lost
        )

    def fail_next(
        self, method: str, *, times: int | None = 1, error: Exception | None = None, answer_lost: bool = False
    ) -> None:
        """`fail` counting from now: the next call of `method` is the first to fail."""
        self.fail(method, on_call=self.call_count(method) + 1, times=times, error=error, answer_lost=answer_lost)

    def call_count(self, method: str) -> int:
        return self._counts[method]

    @contextmanager
    def _call(self, method: str, *args: object, latency: float | None = None) -> Iterator[None]:
        """One call of `method`: logged, delayed by `latency` (the fake's own when None), failing as set."""
        with self._lock:
            self._counts[method] += 1
            number = self._counts[method]
            self.calls.append((method, args))
            failure = self._failures.get(method)
        started = time.perf_counter()
        try:
            delay = self.latency if latency is None else latency
            if delay:
                time.sleep(delay)
            failing = (
                failure
                if failure
                and number >= failure.on_call
                and (failure.times is None or number < failure.on_call + failure.times)
                else None
            )
            if failing and not failing.answer_lost:
                raise failing.error
            yield
            if failing:
                raise failing.error
        finally:
            if self.recorder:
                self.recorder.add(CallRecord(self.port, method, started, time.perf_counter()))
