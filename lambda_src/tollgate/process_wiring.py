"""The process's one Wiring (tollgate.wiring): built from the environment on first use, once per Lambda
instance, or the one a test, `make dev` or the benchmark installed. Re-exported by tollgate.wiring, where
every entry point asks for it (`wiring.current()`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tollgate.config import RuntimeConfig

if TYPE_CHECKING:
    from tollgate.wiring import Wiring

_current: Wiring | None = None
_lock = threading.Lock()


def current() -> Wiring:
    """This process's Wiring: built from the environment the stack sets on first use
    (ConfigurationError naming a missing variable), or the one a test installed."""
    global _current
    with _lock:
        if _current is None:
            from tollgate.wiring import Wiring  # (tollgate.wiring imports this module once Wiring exists)

            _current = Wiring(RuntimeConfig.from_environ(os.environ))
        return _current


@contextmanager
def installed(wiring: Wiring | None) -> Iterator[Wiring | None]:
    """Make `wiring` the process's own for the duration (tests, `make dev`, the benchmark); None
    makes the next `current()` build one from the environment, as a cold start does."""
    global _current
    with _lock:
        previous, _current = _current, wiring
    try:
        yield wiring
    finally:
        with _lock:
            _current = previous
