"""`make dev` (`python -m localdev`) as a user runs it: a child process that prints its URLs, serves
the site and the API, stops every child on SIGTERM, and refuses a taken port with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.site_delivery import security_headers
from localdev.__main__ import API_PORT_ENV, EXIT_PORT_IN_USE, PROJECT_ROOT, SITE_PORT_ENV, DevStackProcess
from localdev.net import bind_loopback


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = set(), [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.add(child)
            queue.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess() as running:
        yield running


def test_prints_every_url_and_serves_the_site_and_the_api_on_two_origins(stack: DevStackProcess) -> None:
    urls = stack.urls
    assert urls["site"] == f"http://127.0.0.1:{stack.site_port}"
    assert urls["api"] == f"http://127.0.0.1:{stack.api_port}"
    output = stack.output()
    for name in ("site", "api", "moto", "stripe", "localstripe", "collector"):
        assert urls[name] in output, name
    assert f"{urls['collector']}/_collector/events" in output

    status, headers, body = get(urls["site"] + "/")
    assert status == 200 and b'<form id="signup-form"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert urls["api"] in headers["Content-Security-Policy"]
    config = json.loads(get(urls["site"] + "/config.json")[2])
    assert config == {"apiUrl": urls["api"], "requirePaymentMethod": False}

    assert get(urls["api"] + "/hello")[:1] == (403,)


def test_site_is_served_with_the_security_headers_cloudfront_sends(stack: DevStackProcess) -> None:
    headers = get(stack.urls["site"] + "/")[1]
    assert {name: headers[name] for name in security_headers(stack.urls["api"])} == security_headers(stack.urls["api"])


def test_sigterm_stops_every_child_process(stack: DevStackProcess) -> None:
    assert stack.process is not None
    children = descendants(stack.process.pid)
    assert children, "the emulators run as child processes"
    assert stack.stop() == 0
    assert [pid for pid in children if alive(pid)] == []
    assert "Stopped" in stack.output()


@pytest.mark.parametrize("taken_env", [SITE_PORT_ENV, API_PORT_ENV])
def test_refuses_to_start_when_a_port_is_taken(taken_env: str) -> None:
    with bind_loopback(0, "squatter") as squatter:
        squatter.listen()
        taken = squatter.getsockname()[1]
        other = SITE_PORT_ENV if taken_env == API_PORT_ENV else API_PORT_ENV
        with bind_loopback(0, "probe") as probe:
            free = probe.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "localdev"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, taken_env: str(taken), other: str(free)})
    assert result.returncode == EXIT_PORT_IN_USE
    assert f"port {taken}" in result.stderr and "already in use" in result.stderr
    assert f"{taken_env}=<port> make dev" in result.stderr and f"{other}=" not in result.stderr
    assert "Tollgate is running" not in result.stdout
