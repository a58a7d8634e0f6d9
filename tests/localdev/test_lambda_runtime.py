"""The local Lambda runtime (localdev.lambda_runtime) and make dev's view of the functions' logs
(localdev.console): invocations take turns as in Lambda, and Powertools' JSON records become one
human-readable line each, at the chosen level, with no key value."""

from __future__ import annotations

import logging
import threading
from typing import Any

import powertools_handlers as handlers
import pytest

from localdev.console import FunctionLogs
from localdev.lambda_runtime import LocalFunction

MODULE = "powertools_handlers"


@pytest.fixture(autouse=True)
def fresh_handlers() -> None:
    handlers.started.clear()
    handlers.release.clear()
    handlers.LOG_STREAM.seek(0)
    handlers.LOG_STREAM.truncate()


def test_an_invocation_of_another_function_waits_and_cannot_take_over_the_current_event() -> None:
    """Powertools keeps the current event per process (a class attribute), as Lambda runs one
    invocation per process: a webhook during a sign-up must not answer the sign-up with its own
    event (that answer lost the caller's CORS origin)."""
    slow, quick = LocalFunction(f"{MODULE}.slow"), LocalFunction(f"{MODULE}.quick")
    answers: dict[str, Any] = {}
    slow_thread = threading.Thread(
        target=lambda: answers.update(slow=slow.invoke(handlers.event("/slow", handlers.ORIGIN)))
    )
    slow_thread.start()
    assert handlers.started.wait(timeout=10)
    quick_thread = threading.Thread(target=lambda: answers.update(quick=quick.invoke(handlers.event("/quick", None))))
    quick_thread.start()
    quick_thread.join(timeout=0.3)
    assert quick_thread.is_alive()  # it waits for its turn...
    handlers.release.set()
    slow_thread.join(timeout=10)
    quick_thread.join(timeout=10)
    assert answers["slow"]["statusCode"] == 201 and answers["quick"]["statusCode"] == 200  # ...then runs
    assert answers["slow"]["multiValueHeaders"]["Access-Control-Allow-Origin"] == [handlers.ORIGIN]


@pytest.mark.parametrize("level, shown", [(logging.INFO, True), (logging.WARNING, False)], ids=["info", "warning"])
def test_function_records_become_one_human_readable_line_at_the_chosen_level(level: int, shown: bool) -> None:
    function = LocalFunction(f"{MODULE}.slow", FunctionLogs(level))
    handlers.release.set()
    assert function.invoke(handlers.event("/slow", handlers.ORIGIN))["statusCode"] == 201

    output = handlers.LOG_STREAM.getvalue()
    if not shown:
        assert output == ""
        return
    (line,) = output.splitlines()
    assert " INFO    tollgate-runtime-test: Slow one answered  " in line
    assert "apiKeyId=key-id-1" in line and "outcome=applied" in line  # extra= and append_keys() keys
    assert "apikey=[masked]" in line and "the-key-value" not in line
    assert "{" not in line and "function_arn" not in line  # no JSON, none of Powertools' standard keys


def test_a_logged_exception_keeps_its_traceback_under_the_line() -> None:
    FunctionLogs(logging.INFO).adopt_powertools_loggers()
    try:
        raise RuntimeError("Stripe said no")
    except RuntimeError:
        handlers.logger.exception("Sign-up failed")
    first, *rest = handlers.LOG_STREAM.getvalue().splitlines()
    assert " ERROR   tollgate-runtime-test: Sign-up failed" in first
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: Stripe said no"
