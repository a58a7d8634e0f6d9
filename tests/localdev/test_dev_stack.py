"""`make dev` (`python -m localdev`) as a user runs it: a child process that prints its URLs, serves
the site and the API, keeps its console human-readable, lets ops commands find it, stops every
child on SIGTERM, and refuses a taken port with a clear message."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.plan_settings import usage_plan_limits
from infra.settings import Settings, load_cdk_json_context
from infra.site_delivery import security_headers, site_config
from localdev.__main__ import API_PORT_ENV, EXIT_PORT_IN_USE, PROJECT_ROOT, SITE_PORT_ENV
from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import AWS_REGION, FAKE_AWS_CREDENTIALS
from localdev.net import bind_loopback
from testkit import dev_stack
from tollgate import contract
from tollgate.domain import api_key_format
from tollgate.domain.key_pools import POOL_KEY_NAME_PREFIX


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


def get(url: str, body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def sign_up(stack: DevStackProcess) -> dict:
    """One sign-up through the emailed link, and a client that hangs up on the local API mid-way."""
    created = dev_stack.sign_up(stack.urls)
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
        client.sendall(b"GET /hello HTTP/1.1\r\nHost: local\r\n\r\n")
    assert get(stack.urls["api"] + "/hello")[0] == 403  # served on; the reset one had its answer written by now
    return created


def without_deployment_settings(environ: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith(("TOLLGATE_", "AWS_"))}


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess() as running:
        yield running


def test_prints_every_url_and_serves_the_site_and_the_api_on_two_origins(stack: DevStackProcess) -> None:
    urls = stack.urls
    assert urls["site"] == f"http://127.0.0.1:{stack.site_port}"
    assert urls["api"] == f"http://127.0.0.1:{stack.api_port}"
    output = stack.output()
    for name in ("site", "api", "moto", "stripe", "localstripe", "collector", "mailbox"):
        assert urls[name] in output, name
    assert f"{urls['site']}/{contract.ACCOUNT_PAGE}" in output
    assert f"{urls['collector']}/_collector/events" in output

    status, headers, body = get(urls["site"] + "/")
    assert status == 200 and b'<form id="signup-form"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "connect-src 'self';" in headers["Content-Security-Policy"]  # the page calls the API through /api/
    assert urls["api"] not in headers["Content-Security-Policy"]
    config = json.loads(get(urls["site"] + "/config.json")[2])
    cdk_json = Settings.from_context(load_cdk_json_context(PROJECT_ROOT / "cdk.json"))
    assert config == site_config(urls["api"], cdk_json.plans, cdk_json.branding)  # the plans and brand are cdk.json's

    assert get(urls["api"] + "/hello")[:1] == (403,)


def test_site_is_served_with_the_security_headers_cloudfront_sends(stack: DevStackProcess) -> None:
    headers = get(stack.urls["site"] + "/")[1]
    assert {name: headers[name] for name in security_headers()} == security_headers()


def test_a_customer_signs_up_and_in_by_emailed_links_on_the_sites_own_origin(stack: DevStackProcess) -> None:
    """Issue 12: the mailbox holds each link; /api/* on the site reaches the API and brings the
    session cookie back as the API set it, with the site's security headers."""
    urls = stack.urls
    created = dev_stack.sign_up(urls)  # POST /register, the mailbox, POST <site>/api/signup/confirm
    email = get(urls["mailbox"] + "/messages.json")[2].decode()
    assert created["apikey"] not in email  # emails carry links, never a key
    (to,) = {message["to"] for message in json.loads(email) if message["subject"].startswith("Confirm")} & {
        message["to"] for message in json.loads(email)
    }
    assert dev_stack.post_json(urls["site"] + contract.ROUTE_SIGNIN, {"email": to})[0] == 202
    status, headers, body = dev_stack.post_json(
        urls["site"] + contract.ROUTE_SIGNIN_CONFIRM, {"token": dev_stack.mailbox_token(urls, to, "signin")}
    )
    assert status == 200 and body["signedIn"] is True
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{contract.SESSION_COOKIE}=") and cookie.endswith(
        "Path=/; Secure; HttpOnly; SameSite=Strict"
    )
    assert headers["Content-Security-Policy"] == security_headers()["Content-Security-Policy"]

    request = urllib.request.Request(urls["site"] + contract.ROUTE_ACCOUNT, headers={"Cookie": cookie.split(";")[0]})
    with urllib.request.urlopen(request, timeout=30) as answer:
        account = json.loads(answer.read())
    assert account["email"] == to and account["keys"][0]["id"] == created["keyId"]
    assert get(urls["site"] + contract.ROUTE_ACCOUNT)[0] == 401


def test_emulated_aws_holds_what_the_stack_creates_with_the_cdk_json_settings(stack: DevStackProcess) -> None:
    settings = Settings.from_context(load_cdk_json_context(PROJECT_ROOT / "cdk.json"))

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=stack.urls["moto"],
            region_name=AWS_REGION,
            aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    usage_plans = {usage_plan["name"]: usage_plan for usage_plan in client("apigateway").get_usage_plans()["items"]}
    # make dev sells a paid and a free plan; and accounts over a usage limit are on one that allows no call
    assert len(usage_plans) == len(settings.plans) + 1 == 3
    assert usage_plans["tollgate-dev-limit-reached"]["quota"] == {"limit": 0, "period": "DAY"}
    for plan in settings.plans:
        usage_plan = usage_plans[f"tollgate-dev-{plan.id}"]
        limits = usage_plan_limits(plan, pooled=settings.pool_size(plan) > 0)  # as infra/gateway.py makes it
        assert usage_plan["throttle"] == {"rateLimit": limits.rate_limit, "burstLimit": limits.burst_limit}
        assert (usage_plan.get("quota") or {}).get("limit") == limits.quota_limit
        assert [stage["stage"] for stage in usage_plan["apiStages"]] == [settings.stage_name]
    pool_keys = client("apigateway").get_api_keys(nameQuery=POOL_KEY_NAME_PREFIX, limit=500)["items"]
    assert len(pool_keys) == settings.free_pool_size > 0  # the free plan's pool, made at start

    tables = {
        name: client("dynamodb").describe_table(TableName=name)["Table"]
        for name in client("dynamodb").list_tables()["TableNames"]
    }
    (accounts,) = [
        table for table in tables.values() if table["KeySchema"][0]["AttributeName"] == contract.ACCOUNTS_PARTITION_KEY
    ]
    types = {
        definition["AttributeName"]: definition["AttributeType"] for definition in accounts["AttributeDefinitions"]
    }
    assert {
        (index["IndexName"], index["KeySchema"][0]["AttributeName"], types[index["KeySchema"][0]["AttributeName"]])
        for index in accounts["GlobalSecondaryIndexes"]
    } == set(contract.ACCOUNTS_INDEXES)
    (usage_reports,) = [
        table
        for table in tables.values()
        if any(
            index["IndexName"] == contract.USAGE_REPORTS_INDEX_PENDING
            for index in table.get("GlobalSecondaryIndexes", [])
        )
    ]
    assert (
        client("dynamodb").describe_time_to_live(TableName=usage_reports["TableName"])["TimeToLiveDescription"][
            "AttributeName"
        ]
        == contract.USAGE_REPORTS_TTL_ATTRIBUTE
    )
    (ledger,) = client("s3").list_buckets()["Buckets"]
    (announced,) = client("s3").get_bucket_notification_configuration(Bucket=ledger["Name"])["QueueConfigurations"]
    assert announced["QueueArn"].endswith("-usage")
    (queue,) = [url for url in client("sqs").list_queues()["QueueUrls"] if url.endswith("-usage")]
    redrive = json.loads(
        client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert int(redrive["maxReceiveCount"]) == contract.USAGE_QUEUE_MAX_RECEIVES

    values = {
        secret["Name"]: client("secretsmanager").get_secret_value(SecretId=secret["ARN"])["SecretString"]
        for secret in client("secretsmanager").list_secrets()["SecretList"]
    }
    backend_secret = values.pop("tollgate-dev-backend")
    assert len(backend_secret) == contract.BACKEND_SECRET_LENGTH and backend_secret.isalnum()
    secrets = {name: json.loads(value) for name, value in values.items()}
    assert {frozenset(value) for value in secrets.values()} == {
        frozenset(contract.STRIPE_SECRET_FIELDS),
        frozenset(contract.MOESIF_SECRET_FIELDS),
    }
    assert all(all(value.values()) for value in secrets.values())


def call_backend(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_backend_answers_through_the_gateway_and_refuses_a_call_that_skips_it(stack: DevStackProcess) -> None:
    """Issue 11, point 3: a direct call to the backend skips keys, metering and billing: 403."""
    registration = sign_up(stack)
    key = {contract.API_KEY_HEADER: registration["apikey"]}
    backend = stack.urls["backend"]
    assert backend in stack.output() and backend != stack.urls["api"]

    status, echoed = call_backend(stack.urls["api"] + "/orders/7", key)
    assert (status, echoed["method"], echoed["path"], echoed["accountId"]) == (
        200,
        "GET",
        "/orders/7",
        registration["accountId"],
    )
    assert echoed["apiKeyId"]  # the account's API Gateway key's id, never a key value
    for headers in ({}, key, {**key, contract.BACKEND_SECRET_HEADER: "a-guess"}):
        status, body = call_backend(backend + "/orders/7", headers)
        assert status == 403 and "through its gateway" in body["error"]


def test_the_console_shows_no_json_and_no_traceback_by_default(stack: DevStackProcess) -> None:
    registration = sign_up(stack)
    output = stack.output()
    assert '{"level"' not in output and "Traceback" not in output and "ConnectionResetError" not in output
    assert "tollgate-register: Registered" not in output and f"POST {contract.ROUTE_REGISTER} -> " not in output
    assert f"POST {contract.ROUTE_SIGNUP_CONFIRM} -> " not in output
    assert "ARGS=--log-requests" in output and registration["apikey"] not in output


def test_with_log_requests_every_request_shows_as_one_human_readable_line() -> None:
    with DevStackProcess(log_requests=True) as running:
        registration = sign_up(running)
        running.stop()  # every line written
        output = running.output()
    registered = next(line for line in output.splitlines() if "tollgate-register: Registered" in line)
    assert " INFO " in registered and f"keyId={registration['keyId']}" in registered
    assert f"localdev.requests: POST {contract.ROUTE_REGISTER} -> 202 in " in output
    assert f"localdev.requests: POST {contract.ROUTE_SIGNUP_CONFIRM} -> 201 in " in output
    assert "GET /hello -> 403 UNAUTHORIZED" in output  # no x-api-key: the authorizer is not even called
    assert '{"level"' not in output and "Traceback" not in output and registration["apikey"] not in output


def test_failed_accounts_finds_the_running_stack_without_any_setting(stack: DevStackProcess) -> None:
    assert stack.stack_file.exists()
    result = subprocess.run(
        [sys.executable, "-m", "ops.failed_accounts"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**without_deployment_settings(dict(os.environ)), "DEV_STACK_FILE": str(stack.stack_file)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No failed accounts and no orphaned keys.\n"
    assert "Using the running make dev stack" in result.stderr
    assert "make failed-accounts" in stack.output()  # the banner says so


def test_sigterm_stops_every_child_process(stack: DevStackProcess) -> None:
    assert stack.process is not None
    children = descendants(stack.process.pid)
    assert children, "the emulators run as child processes"
    assert stack.stop() == 0
    assert [pid for pid in children if alive(pid)] == []
    assert "Stopped" in stack.output() and "Traceback" not in stack.output()
    assert not stack.stack_file.exists()  # ops commands no longer find it


def test_a_stop_signal_taken_by_a_server_thread_stops_it_too() -> None:
    """The kernel hands a signal sent to the process to any of its threads; make dev once waited in
    signal.pause() for one its main thread never got, and ignored `kill` and Ctrl-C until SIGKILL.
    Here the SIGTERM goes to one of its other threads (tgkill), as the kernel sometimes sends it."""
    with DevStackProcess() as running:
        assert running.process is not None
        pid = running.process.pid
        (thread, *_) = [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir() if int(task.name) != pid]
        assert ctypes.CDLL(None, use_errno=True).tgkill(pid, thread, signal.SIGTERM) == 0
        assert running.process.wait(timeout=20) == 0
        output = running.output()
    assert "Stopped" in output and "Traceback" not in output


def test_ctrl_c_in_a_terminal_stops_everything_quietly() -> None:
    with DevStackProcess(own_process_group=True) as running:
        assert running.process is not None
        children = descendants(running.process.pid)
        os.killpg(running.process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert running.process.wait(timeout=20) == 0
        assert [pid for pid in children if alive(pid)] == []
        output = running.output()
    assert "Stopped" in output and "Traceback" not in output and "KeyboardInterrupt" not in output


@pytest.mark.parametrize("taken_env", [SITE_PORT_ENV, API_PORT_ENV])
def test_refuses_to_start_when_a_port_is_taken(taken_env: str) -> None:
    with bind_loopback(0, "squatter") as squatter:
        squatter.listen()
        taken = squatter.getsockname()[1]
        other = SITE_PORT_ENV if taken_env == API_PORT_ENV else API_PORT_ENV
        with bind_loopback(0, "probe") as probe:
            free = probe.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "localdev"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, taken_env: str(taken), other: str(free)},
        )
    assert result.returncode == EXIT_PORT_IN_USE
    assert f"port {taken}" in result.stderr and "already in use" in result.stderr
    assert f"{taken_env}=<port> make dev" in result.stderr and f"{other}=" not in result.stderr
    assert "Tollgate is running" not in result.stdout


def test_refuses_the_same_port_for_the_site_and_the_api() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localdev"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, SITE_PORT_ENV: "8123", API_PORT_ENV: "8123"},
    )
    assert result.returncode == EXIT_PORT_IN_USE
    assert "two ports" in result.stderr and SITE_PORT_ENV in result.stderr and API_PORT_ENV in result.stderr


def test_before_the_banner_each_step_is_one_progress_line(stack: DevStackProcess) -> None:
    """Issue 19: the first `make dev` printed 326 lines before its banner (the installs, now one line
    each with their logs, tests/test_makefile.py); make dev itself says one line per step."""
    before_banner = stack.output().split("Tollgate is running locally", 1)[0].strip().splitlines()

    assert [line.split(": ", 1)[1] for line in before_banner] == [
        "Starting the emulators: moto (AWS), localstripe behind the Stripe bridge, the Moesif collector...",
        "Creating in them what the stack creates: REST API, usage plan, tables, secrets, Stripe catalog...",
    ]


def test_the_banner_says_when_the_scheduled_functions_run(stack: DevStackProcess) -> None:
    assert "make status" in stack.output()
    assert (
        "The scheduled functions run now, as after a deploy, then the reconciler every 15 minutes, the "
        "housekeeping every 60 minutes, the key retirement every 5 minutes"
    ) in stack.output()


def test_the_banner_prints_the_key_format_for_secret_scanners(stack: DevStackProcess) -> None:
    assert f"  {api_key_format.key_pattern(contract.DEFAULT_KEY_PREFIX)}\n" in stack.output()
    assert f"refused within {contract.DEFAULT_AUTHORIZER_CACHE_SECONDS} s" in stack.output()


def test_refuses_a_schedule_interval_that_is_not_a_positive_number_of_seconds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "--schedule-seconds", "0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--schedule-seconds takes a number of seconds greater than 0" in result.stderr
