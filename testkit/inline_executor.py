"""An executor that runs each call at once, where the services run calls concurrently: the domain tests
stay deterministic."""

from __future__ import annotations

from concurrent.futures import Executor, Future


class InlineExecutor(Executor):
    """Runs each call at once (deterministic domain tests)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as failure:  # noqa: BLE001 - handed to the future like a pool does
            future.set_exception(failure)
        return future


INLINE = InlineExecutor()
