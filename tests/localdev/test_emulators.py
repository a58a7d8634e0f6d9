"""Emulator lifecycle (localdev/emulators.py): clean start and stop, fresh state, clear port errors.

These start their own emulators (not the session ones) to observe start and stop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import stripe

from localdev.emulators import Emulators, LocalStripe, MoesifCollector, MotoServer, PortInUseError, StripeBridge
from tollgate.contract import ENV_MOESIF_API_BASE, ENV_STRIPE_API_BASE

LOCALSTRIPE_PICKLE = Path("/tmp/localstripe.pickle")  # where localstripe would persist its state


def accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def threads_are_unchanged() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert wait_until(lambda: set(threading.enumerate()) <= before, timeout=2), (
        f"threads left behind: {set(threading.enumerate()) - before}"
    )


def test_emulators_start_together_and_stop_leaving_no_process_thread_or_port(threads_are_unchanged: None):
    emulators = Emulators().start()
    ports = [emulators.moto.port, emulators.localstripe.port, emulators.stripe.port, emulators.moesif.port]
    pids = [emulators.moto.pid, emulators.localstripe.pid]
    assert all(accepts_connections(port) for port in ports)
    print(f"emulators started in {emulators.startup_seconds:.2f} s")

    emulators.stop()

    assert not any(accepts_connections(port) for port in ports)
    assert not any(process_exists(pid) for pid in pids if pid is not None)


def test_env_points_the_functions_at_the_running_emulators(emulators: Emulators):
    env = emulators.env()

    assert env[ENV_STRIPE_API_BASE] == emulators.stripe_api_base
    assert env[ENV_MOESIF_API_BASE] == emulators.moesif.base_url
    assert env["AWS_ENDPOINT_URL"] == emulators.moto.endpoint_url
    # boto3 honours AWS_ENDPOINT_URL, the fake credentials and the region by itself.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import boto3; print(boto3.client('apigateway').create_api_key(name='env-check')['id'])",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    apigateway = boto3.client(
        "apigateway",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert result.stdout.strip() in [key["id"] for key in apigateway.get_api_keys()["items"]]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda port: MotoServer(port), id="moto"),
        pytest.param(lambda port: LocalStripe(port), id="localstripe"),
        pytest.param(lambda port: StripeBridge("http://127.0.0.1:9", port), id="bridge"),
        pytest.param(lambda port: MoesifCollector(port), id="collector"),
    ],
)
def test_a_taken_port_is_refused_with_a_message_naming_it(
    make: Callable[[int], Any], taken_port: int, threads_are_unchanged: None
):
    with pytest.raises(PortInUseError, match=f"port {taken_port} on 127.0.0.1 is already in use") as raised:
        make(taken_port).start()
    assert raised.value.port == taken_port


def test_a_taken_port_stops_the_emulators_already_started(taken_port: int, threads_are_unchanged: None):
    emulators = Emulators(stripe_port=taken_port)

    with pytest.raises(PortInUseError, match="Stripe bridge cannot start"):
        emulators.start()

    assert emulators.moto.pid is None and emulators.localstripe.pid is None


def test_a_fixed_free_port_is_used_as_given(threads_are_unchanged: None):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with MoesifCollector(port) as collector:
        assert collector.base_url == f"http://127.0.0.1:{port}"


def test_localstripe_starts_from_scratch_every_time_and_never_writes_its_pickle(threads_are_unchanged: None):
    pickle_before = LOCALSTRIPE_PICKLE.stat().st_mtime_ns if LOCALSTRIPE_PICKLE.exists() else None
    email = "scratch@example.com"
    for _ in range(2):
        with LocalStripe() as localstripe:
            client = stripe.StripeClient("sk_test_scratch", base_addresses={"api": localstripe.url})
            assert client.v1.customers.list(params={"email": email}).data == []
            client.v1.customers.create(params={"email": email})

    pickle_after = LOCALSTRIPE_PICKLE.stat().st_mtime_ns if LOCALSTRIPE_PICKLE.exists() else None
    assert pickle_after == pickle_before


def test_localstripe_listens_on_loopback_only():
    with LocalStripe() as localstripe:
        addresses = _listening_addresses(localstripe.port)
    assert addresses == {"127.0.0.1"}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]) if len(address) == 8 else address)
    return found


def test_children_exit_when_their_parent_is_killed():
    """`make dev` killed with SIGKILL must not leave moto or localstripe running."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import json, sys, time\n"
                "from localdev.emulators import Emulators\n"
                "e = Emulators().start()\n"
                "print(json.dumps([e.moto.pid, e.localstripe.pid]), flush=True)\n"
                "time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        children = json.loads(parent.stdout.readline())
        assert all(process_exists(pid) for pid in children)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()

    assert wait_until(lambda: not any(_alive(pid) for pid in children), timeout=10)


def _alive(pid: int) -> bool:
    """True while `pid` runs (an exited child of the killed parent is reaped by init, not a zombie here)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"


def test_moto_reset_forgets_resources(threads_are_unchanged: None):
    with MotoServer() as moto:
        apigateway = boto3.client(
            "apigateway",
            endpoint_url=moto.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        apigateway.create_api_key(name="to-forget")
        moto.reset()
        assert apigateway.get_api_keys()["items"] == []


def test_bridge_status_page_is_reachable_through_the_emulators(emulators: Emulators):
    """The bridge forwards what it does not handle: localstripe's own JS stub answers through it."""
    with urllib.request.urlopen(f"{emulators.stripe_api_base}/js.stripe.com/v3/", timeout=5) as response:
        assert response.status == 200 and b"Stripe" in response.read()


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_the_suite_reaches_loopback_only(moesif_collector: MoesifCollector):
    """pytest-socket (pyproject's --allow-hosts): the emulators answer, the network is refused."""
    from pytest_socket import SocketConnectBlockedError

    with socket.create_connection(("127.0.0.1", moesif_collector.port), timeout=1):
        pass
    with socket.socket() as outbound, pytest.raises(SocketConnectBlockedError):
        outbound.connect(("192.0.2.1", 443))
