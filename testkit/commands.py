"""Running an operator command (ops/*.py) the way its make target does, in-process: its exit status and
what it printed, for the tests of every command."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any


def run_command(main: Callable[..., int], argv: Iterable[str], **options: Any) -> tuple[int, str]:
    """`main(argv, out=<buffer>, **options)` (options: environ, clock, ...): (exit status, output)."""
    out = io.StringIO()
    return main(list(argv), out=out, **options), out.getvalue()
