"""The local stand-in for EventBridge Scheduler: each scheduled function (the reconciler, the
housekeeping) is invoked on a fixed rate, with the empty event its schedule sends, on its own
thread, as the stack's `rate(...)` schedules invoke them in AWS (infra/scheduled.py).

As in AWS, the first invocation comes at the start: the stack's schedules set no start date, and "If
you don't provide a StartDate for a rate-based schedule, your schedule starts invoking the target
immediately" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based),
so `make status` shows a reconciler run right after `make dev` starts, as it does after a deploy.
Then one comes every interval; a failed run is logged and not retried (the next one starts over),
and runs of one function never overlap (an invocation takes its turn with every other function's,
localdev.lambda_runtime).
"""

from __future__ import annotations

import logging
import threading

from localdev.lambda_runtime import LocalFunction

log = logging.getLogger("localdev.scheduler")


class RateSchedule:
    """Invokes `function` every `interval_seconds` until stopped."""

    def __init__(self, function: LocalFunction, interval_seconds: float) -> None:
        self._function = function
        self._interval = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule {function.handler_path}", daemon=True)

    def start(self) -> RateSchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._function.invoke({})
            except Exception:
                log.exception("Scheduled run of %s failed", self._function.handler_path)
            self._stopped.wait(self._interval)
