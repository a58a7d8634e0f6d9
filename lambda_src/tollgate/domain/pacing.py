"""Pacing calls under a service's rate limit (Stripe's for the reconciler, API Gateway's key creations and
deletions for the housekeeping), on an injected clock so tests never wait."""

from __future__ import annotations

from collections.abc import Callable


class Pacer:
    """At most `per_second` calls: `wait(n)` before n of them sleeps as long as that takes."""

    def __init__(self, per_second: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self._interval = 1 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    def wait(self, calls: int = 1) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + calls * self._interval
