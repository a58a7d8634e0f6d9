"""The one settable clock the tests and benchmarks hand to every service instead of `time.time` and
`time.sleep`: time moves only when the code under test sleeps or a test advances it, so no test
waits for real and every time-dependent rule (leases, grace periods, windows) is exact."""

from __future__ import annotations

import time


class Clock:
    """Epoch seconds, starting now (or at `start`)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """What a service's `sleep` does here: the time passes at once, and is counted in `slept`."""
        self.slept += seconds
        self.now += seconds


START = (
    1_800_000_000.0  # 2027-01-15T08:00Z: the fixed "now" of the unit tests' world (tests/lambda_src/unit/conftest.py)
)
