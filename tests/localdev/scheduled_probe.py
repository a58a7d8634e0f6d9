"""A scheduled handler for tests/localdev/test_scheduler.py: records each invocation's event and the
time its context gives it, and fails when told to."""

from __future__ import annotations

import threading
from typing import Any

invocations: list[tuple[dict, int]] = []
fail_next = threading.Event()
invoked = threading.Semaphore(0)


def handler(event: dict, context: Any) -> dict:
    invocations.append((event, context.get_remaining_time_in_millis()))
    invoked.release()
    if fail_next.is_set():
        fail_next.clear()
        raise RuntimeError("a failed scheduled run")
    return {}
