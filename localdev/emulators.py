"""Offline stand-ins for AWS, Stripe and Moesif, each on 127.0.0.1 with a clean start and stop.

- `MotoServer`: moto in server mode (`endpoint_url`), in a child process so its state is fresh
  at every start and an in-process `moto.mock_aws()` in some test can never reset it; with
  localdev/moto_gaps.py's API-key fillers (tagging, deleted keys leaving their usage plans, removing a
  key that is in no plan).
- `LocalStripe`: localstripe from scratch, in a child process (its state is module-global; the
  pickle it would write to /tmp after every call is disabled, and never read).
- `StripeBridge`: localdev.stripe_bridge in front of a LocalStripe (`api_base`), in a thread.
- `MoesifCollector` (localdev.moesif_collector): records what Moesif/Firehose would receive.
- `Emulators`: all four, started concurrently; `env()` is what the functions need to use them.

Each one takes `port=0` (any free port) or a fixed port, and refuses a taken port with
`PortInUseError` naming it. Child processes also exit on their own if this process dies (they
watch their stdin), so nothing outlives the test run or `make dev`.
"""

from __future__ import annotations

import asyncio
import select
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from aiohttp import web

from localdev.moesif_collector import MoesifCollector
from localdev.net import LOOPBACK, PortInUseError, bind_loopback, ensure_port_free
from localdev.stripe_bridge import BRIDGE_KEY, Bridge, BridgeState, create_app
from tollgate.contract import ENV_MOESIF_API_BASE, ENV_STRIPE_API_BASE

__all__ = ["Emulators", "LocalStripe", "MoesifCollector", "MotoServer", "PortInUseError", "StripeBridge"]

# The secret key make dev and the tests give the Stripe emulator (any sk_test_ key works there).
STRIPE_TEST_SECRET_KEY = "sk_test_tollgate"
STARTUP_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 5
AWS_REGION = "us-east-1"
FAKE_AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# Child programs: argv = [host, port, fd-or-empty]; they print their port once serving, then
# serve until stdin closes (our stop(), or this process dying). Ctrl-C in a terminal signals the
# whole process group: children ignore it and let the parent stop them in order, without tracebacks.
_CHILD_PREAMBLE = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
_MOTO_CHILD = """
import logging, os, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
from localdev.moto_gaps import fill_api_key_gaps
fill_api_key_gaps()
server = ThreadedMotoServer(ip_address=sys.argv[1], port=int(sys.argv[2]), verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
os._exit(0)  # moto holds nothing to flush; its own stop() would poll for up to 0.5 s
"""

_LOCALSTRIPE_CHILD = """
import asyncio, socket, sys
from aiohttp import web
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None  # from scratch: no pickle in /tmp, ever

async def main():
    sock = socket.socket(fileno=int(sys.argv[3]))
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(sock.getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()

asyncio.run(main())
"""


class _LoopbackService:
    """An emulator on `host:port` (port 0 = any free port); `port` and `url` once it serves."""

    name = "server"

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _ChildServer(_LoopbackService):
    """A server in a child Python process; `spawn()` returns at once, `wait_ready()` blocks."""

    program = ""
    passes_socket = False

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        super().__init__(port, host)
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def spawn(self) -> None:
        args = [sys.executable, "-c", _CHILD_PREAMBLE + self.program, self._host, str(self._requested_port)]
        if self.passes_socket:
            sock = bind_loopback(self._requested_port, self.name, self._host)
            with sock:
                self._process = subprocess.Popen(
                    [*args, str(sock.fileno())],
                    pass_fds=(sock.fileno(),),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
        else:
            ensure_port_free(self._requested_port, self.name, self._host)
            self._process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def wait_ready(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None, "spawn() first"
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT_SECONDS)
        line = process.stdout.readline().strip() if ready else ""
        if not line.isdigit():
            self.stop()
            raise RuntimeError(
                f"{self.name} did not start within {STARTUP_TIMEOUT_SECONDS} s "
                f"(exit code {process.returncode}); its error output is above"
            )
        self._port = int(line)

    def start(self) -> _ChildServer:
        self.spawn()
        self.wait_ready()
        return self

    def stop(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class MotoServer(_ChildServer):
    """moto in server mode: point boto3 at `endpoint_url` (or set AWS_ENDPOINT_URL)."""

    name = "moto server"
    program = _MOTO_CHILD

    @property
    def endpoint_url(self) -> str:
        return self.url

    def reset(self) -> None:
        """Forget every emulated AWS resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


class LocalStripe(_ChildServer):
    """localstripe, loopback only, fresh state at every start. Most callers want StripeBridge."""

    name = "localstripe"
    program = _LOCALSTRIPE_CHILD
    passes_socket = True


class StripeBridge(_LoopbackService):
    """The Stripe API the code under test talks to: localdev.stripe_bridge in front of localstripe.

    Runs its own event loop in a thread. `state` exposes what only the bridge stores (prices,
    meters, meter events, checkout sessions, webhook endpoints, deliveries) for assertions.
    """

    name = "Stripe bridge"

    def __init__(self, upstream_url: str, port: int = 0, host: str = LOOPBACK) -> None:
        super().__init__(port, host)
        self._upstream_url = upstream_url
        self.state = BridgeState()
        self._bridge: Bridge | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_base(self) -> str:
        """What TOLLGATE_STRIPE_API_BASE is set to."""
        return self.url

    def start(self) -> StripeBridge:
        sock = bind_loopback(self._requested_port, self.name, self._host)
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = create_app(self._upstream_url, self.state)
            self._bridge = app[BRIDGE_KEY]
            runner = web.AppRunner(app, access_log=None)
            try:
                await runner.setup()
                await web.SockSite(runner, sock).start()
                self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
                self._port = sock.getsockname()[1]
            except BaseException as error:  # noqa: BLE001 - reported to start(), which re-raises it
                failure.append(error)
                sock.close()
                return
            finally:
                ready.set()
            await self._stopping.wait()
            await runner.cleanup()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), name="stripe-bridge", daemon=True)
        self._thread.start()
        ready.wait(STARTUP_TIMEOUT_SECONDS)
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(STOP_TIMEOUT_SECONDS)
        self._thread = self._loop = self._stopping = self._bridge = None
        self._port = None

    def send_event(
        self, event_type: str, data_object: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> list[Any]:
        """Deliver a signed Stripe event to the registered webhook endpoints; returns the deliveries."""
        if self._loop is None or self._bridge is None:
            raise RuntimeError(f"{self.name} is not running")
        future = asyncio.run_coroutine_threadsafe(
            self._bridge.send_event(event_type, data_object, previous_attributes), self._loop
        )
        return future.result(timeout=30)


class Emulators:
    """moto + localstripe + Stripe bridge + Moesif collector, started together.

    Ports default to free ones; pass fixed ports (as `make dev` may) by name.
    """

    def __init__(
        self,
        *,
        moto_port: int = 0,
        localstripe_port: int = 0,
        stripe_port: int = 0,
        moesif_port: int = 0,
        host: str = LOOPBACK,
    ) -> None:
        self.moto = MotoServer(moto_port, host)
        self.localstripe = LocalStripe(localstripe_port, host)
        self._stripe_port = stripe_port
        self._host = host
        self.moesif = MoesifCollector(moesif_port, host)
        self.stripe: StripeBridge | None = None
        self.startup_seconds: float | None = None

    def start(self) -> Emulators:
        started = time.perf_counter()
        try:
            # Both children import for ~0.5 s; overlap them.
            self.moto.spawn()
            self.localstripe.spawn()
            self.moesif.start()
            self.localstripe.wait_ready()
            self.stripe = StripeBridge(self.localstripe.url, self._stripe_port, self._host).start()
            self.moto.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def stop(self) -> None:
        if self.stripe is not None:
            self.stripe.stop()
        for server in (self.localstripe, self.moto, self.moesif):
            server.stop()

    def __enter__(self) -> Emulators:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stripe_api_base(self) -> str:
        if self.stripe is None:
            raise RuntimeError("Emulators are not running")
        return self.stripe.api_base

    def urls(self) -> dict[str, str]:
        """Human-readable map, for `make dev` to print."""
        return {
            "AWS (moto)": self.moto.endpoint_url,
            "Stripe API (bridge)": self.stripe_api_base,
            "localstripe": self.localstripe.url,
            "Moesif collector": self.moesif.base_url,
        }

    def env(self) -> dict[str, str]:
        """Environment for the functions (and boto3) to use these emulators instead of the real services."""
        return {
            "AWS_ENDPOINT_URL": self.moto.endpoint_url,
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
            **FAKE_AWS_CREDENTIALS,
            ENV_STRIPE_API_BASE: self.stripe_api_base,
            ENV_MOESIF_API_BASE: self.moesif.base_url,
        }
