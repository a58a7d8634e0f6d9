"""make dev's EventBridge Scheduler stand-in (localdev.scheduler): a scheduled function is invoked
at the start and then every interval with the schedule's empty event and its own timeout, a failed
run is logged and the next still comes, and stopping ends the schedule."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import scheduled_probe as probe

from localdev.lambda_runtime import LocalFunction
from localdev.scheduler import RateSchedule


@pytest.fixture(autouse=True)
def fresh_probe() -> None:
    probe.invocations.clear()
    probe.fail_next.clear()


def test_the_function_is_invoked_every_interval_with_the_schedules_event_and_its_own_timeout(caplog):
    probe.fail_next.set()  # the first run fails: Lambda logs it, the schedule goes on
    started = time.monotonic()
    schedule = RateSchedule(LocalFunction("scheduled_probe.handler", timeout_seconds=300), 0.5).start()
    try:
        assert probe.invoked.acquire(timeout=5)
        first_run_after = time.monotonic() - started
        for _ in range(2):
            assert probe.invoked.acquire(timeout=5)
    finally:
        schedule.stop()
    count = len(probe.invocations)
    schedule_threads = [thread for thread in threading.enumerate() if thread.name == "schedule scheduled_probe.handler"]

    assert first_run_after < 0.5  # at the start, not one interval later: no start date, as in AWS
    assert time.monotonic() - started >= 1.0  # then one run every interval
    assert [event for event, _ in probe.invocations] == [{}] * count
    assert all(295_000 < remaining <= 300_000 for _, remaining in probe.invocations)
    assert schedule_threads == [] and len(probe.invocations) == count  # stopped: its thread has ended, nothing after
    assert "Scheduled run of scheduled_probe.handler failed" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR
