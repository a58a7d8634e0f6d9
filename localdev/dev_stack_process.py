"""`make dev` as a child process, for tests and tools that need the whole product running beside them:
started on free ports, its output kept, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localdev.__main__ import API_PORT_ENV, PROJECT_ROOT, SITE_PORT_ENV
from localdev.net import bind_loopback
from ops.deployment import DEV_STACK_FILE_ENV


def free_port() -> int:
    """A port nothing listens on right now (for tests that need fixed numbers up front)."""
    with contextlib.closing(bind_loopback(0, "free port probe")) as sock:
        return sock.getsockname()[1]


class DevStackProcess:
    """`python -m localdev` as a child process; `urls` once it is ready. Port 0 = a free port.

    Leaving the context sends SIGTERM (what `kill` does to `make dev`) and waits for the exit.
    `own_process_group` starts it as a terminal starts a command, so a test can press Ctrl-C
    (SIGINT to the whole group) without interrupting itself.
    """

    def __init__(
        self,
        site_port: int = 0,
        api_port: int = 0,
        startup_timeout: float = 90.0,
        log_path: Path | None = None,
        context: dict[str, str] | None = None,
        own_process_group: bool = False,
        log_requests: bool = False,
        schedule_seconds: float | None = None,
    ) -> None:
        self.site_port, self.api_port = site_port or free_port(), api_port or free_port()
        self._arguments = [f"--context={key}={value}" for key, value in (context or {}).items()]
        self._arguments += ["--log-requests"] if log_requests else []
        self._arguments += [f"--schedule-seconds={schedule_seconds:g}"] if schedule_seconds else []
        self._own_process_group = own_process_group
        self._startup_timeout = startup_timeout
        self._workdir = tempfile.TemporaryDirectory(prefix="tollgate-dev-")
        self.log_path = log_path or Path(self._workdir.name, "dev.log")
        self._urls_file = Path(self._workdir.name, "urls.json")
        # Its own, so a test stack never replaces the file of a `make dev` running in this clone.
        self.stack_file = Path(self._workdir.name, "dev-stack.json")
        self.process: subprocess.Popen[bytes] | None = None
        self.urls: dict[str, str] = {}

    def start(self) -> DevStackProcess:
        environment = {
            **os.environ,
            SITE_PORT_ENV: str(self.site_port),
            API_PORT_ENV: str(self.api_port),
            DEV_STACK_FILE_ENV: str(self.stack_file),
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localdev", "--urls-file", str(self._urls_file), *self._arguments],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self._own_process_group,
            )
        deadline = time.monotonic() + self._startup_timeout
        while not self._urls_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"`python -m localdev` did not come up:\n{self.output()}")
            time.sleep(0.1)
        self.urls = json.loads(self._urls_file.read_text())
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> DevStackProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._workdir.cleanup()
