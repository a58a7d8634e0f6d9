"""`make dev` (`python -m localdev`): the whole product on local emulators, no account needed.

Starts moto, localstripe behind its bridge and the Moesif collector, creates in them what the
stack would (localdev.bootstrap, from cdk.json's settings), then serves the API (localdev.gateway,
running the real handlers) and the signup site (localdev.site_server) on two loopback origins.
Ctrl-C or SIGTERM stops everything it started.

DevStack is the same thing as a context manager; DevStackProcess runs `python -m localdev` as a
child process, so the browser tests start exactly what `make dev` starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from infra.settings import Settings, SettingsError, load_cdk_json_context
from localdev.bootstrap import LocalDeployment, aws_client, bootstrap
from localdev.console import FunctionLogs, configure_console
from localdev.dev_tables import NAME
from localdev.emulators import Emulators
from localdev.firehose import LedgerBackup
from localdev.gateway import LocalGateway
from localdev.lambda_runtime import LocalFunction
from localdev.mailbox import Mailbox
from localdev.net import LOOPBACK, PortInUseError, ensure_port_free
from localdev.sample_backend_server import SampleBackendServer
from localdev.scheduler import RateSchedule
from localdev.site_server import SiteServer
from localdev.sqs_event_source import SqsEventSource
from localdev.usage_plan_usage import UsagePlanUsageProxy, counters_for
from ops.deployment import (
    DEFAULT_DEV_STACK_FILE,
    DEV_STACK_FILE_ENV,
    dev_stack_file,
    publish_dev_stack,
    withdraw_dev_stack,
)
from tollgate import contract
from tollgate.domain import api_key_format

log = logging.getLogger("localdev")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITE_PORT_ENV, API_PORT_ENV = "DEV_SITE_PORT", "DEV_API_PORT"
DEFAULT_SITE_PORT, DEFAULT_API_PORT = 8000, 8001
EXIT_PORT_IN_USE, EXIT_BAD_SETTINGS = 2, 3


class DevStack:
    """Everything `make dev` runs, in this process: `with DevStack(8000, 8001) as stack: stack.urls`.

    The ports must be fixed numbers: the site's origin is baked into the functions' environment
    (Checkout's way back, the quota answer's account link) and the API's URL into the site's
    config.json before either starts. `function_environment` is
    what the functions get once started (what ops commands need to act on this stack).
    """

    def __init__(
        self,
        site_port: int = DEFAULT_SITE_PORT,
        api_port: int = DEFAULT_API_PORT,
        settings: Settings | None = None,
        function_logs: FunctionLogs | None = None,
        schedule_seconds: float | None = None,
    ) -> None:
        self.settings = settings or Settings.from_context(load_cdk_json_context(PROJECT_ROOT / "cdk.json"))
        # The scheduled functions: (timeout, interval) as the stack has them, or every `schedule_seconds`.
        self.schedules = {
            contract.HANDLER_RECONCILER: (
                contract.RECONCILER_TIMEOUT_SECONDS,
                schedule_seconds or self.settings.reconcile_interval_minutes * 60,
            ),
            contract.HANDLER_HOUSEKEEPING: (
                contract.HOUSEKEEPING_TIMEOUT_SECONDS,
                schedule_seconds or contract.HOUSEKEEPING_INTERVAL_MINUTES * 60,
            ),
            contract.HANDLER_KEY_RETIREMENT: (
                contract.RECONCILER_TIMEOUT_SECONDS,
                schedule_seconds or contract.KEY_RETIREMENT_INTERVAL_MINUTES * 60,
            ),
        }
        self.site_url = f"http://{LOOPBACK}:{site_port}"
        self.api_url = f"http://{LOOPBACK}:{api_port}"
        self._ports = {"Signup site": site_port, "Local API Gateway": api_port}
        self._function_logs = function_logs
        self._resources = contextlib.ExitStack()
        self.urls: dict[str, str] = {}
        self.function_environment: dict[str, str] = {}

    def start(self) -> DevStack:
        for what, port in self._ports.items():
            ensure_port_free(port, what)
        try:
            self._start()
        except BaseException:
            self._resources.close()
            raise
        return self

    def _start(self) -> None:
        log.info("Starting the emulators: moto (AWS), localstripe behind the Stripe bridge, the Moesif collector...")
        emulators = self._resources.enter_context(Emulators())
        sample_backend = self._resources.enter_context(SampleBackendServer(function_logs=self._function_logs))
        if self.settings.backend_function_arn:
            log.warning(
                "backend_function_arn is a Lambda in AWS that make dev cannot run: the sample backend "
                "answers metered calls locally."
            )
        log.info("Creating in them what the stack creates: REST API, usage plan, tables, secrets, Stripe catalog...")
        deployment = bootstrap(
            self.settings,
            emulators,
            site_url=self.site_url,
            api_url=self.api_url,
            sample_backend_url=sample_backend.url,
        )
        usage_counters = counters_for(
            {
                plan.usage_plan_id: (None if plan.pooled else plan.quota_limit, plan.quota_period)
                for plan in deployment.plans
            }
            | (
                {deployment.limit_reached.usage_plan_id: deployment.limit_reached.quota}
                if deployment.limit_reached
                else {}
            )
        )
        usage_stand_in = self._resources.enter_context(UsagePlanUsageProxy(emulators.moto.endpoint_url, usage_counters))
        # This process plays the Lambda runtime: the handlers read their settings from it.
        self.function_environment = {
            **deployment.function_environment,
            "AWS_ENDPOINT_URL_API_GATEWAY": usage_stand_in.url,
        }
        os.environ.update(self.function_environment)
        # No CloudWatch reads the embedded metric format here: the JSON would only clutter the console
        # (the reporter's log lines say the same in words).
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        ledger = LedgerBackup(
            aws_client("s3", emulators),
            deployment.ledger_bucket,
            f"amazon-apigateway-{NAME}-{self.settings.stage_name}",
        )
        self._resources.enter_context(
            LocalGateway(
                deployment.gateway,
                aws_client("apigateway", emulators),
                port=self._ports["Local API Gateway"],
                function_logs=self._function_logs,
                ledger=ledger,
                usage=usage_counters,
            )
        )
        self._start_usage_reporter(deployment, emulators)
        for handler, (timeout, interval) in self.schedules.items():
            function = LocalFunction(handler, self._function_logs, timeout_seconds=timeout)
            self._resources.callback(RateSchedule(function, interval).start().stop)
        self._resources.enter_context(
            SiteServer(self.api_url, self.settings.plans, self.settings.branding, port=self._ports["Signup site"])
        )
        mailbox = self._resources.enter_context(Mailbox(emulators.moto.endpoint_url))
        self.urls = {
            "site": self.site_url,
            "api": self.api_url,
            "moto": emulators.moto.endpoint_url,
            "stripe": emulators.stripe_api_base,
            "localstripe": emulators.localstripe.url,
            "collector": emulators.moesif.base_url,
            "backend": deployment.gateway.backend_url,
            "mailbox": mailbox.url,
        }

    def _start_usage_reporter(self, deployment: LocalDeployment, emulators: Emulators) -> None:
        """With usage_reporter=tollgate: the usage queue feeds the real reporter handler, as Lambda's
        SQS event source does (S3 announces each ledger object on the queue itself)."""
        if deployment.usage is None:
            return
        reporter = LocalFunction(contract.HANDLER_USAGE_REPORTER, self._function_logs)
        source = SqsEventSource(
            aws_client("sqs", emulators), deployment.usage.queue_url, deployment.usage.queue_arn, reporter.invoke
        ).start()
        self._resources.callback(source.stop)

    def stop(self) -> None:
        self._resources.close()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def banner(self) -> str:
        urls = self.urls
        collector = urls["collector"]
        stripe_note = f"bridge in front of localstripe ({urls['localstripe']})"
        rows = [
            ("Signup site", urls["site"], "open this in a browser"),
            ("Account page", f"{urls['site']}/{contract.ACCOUNT_PAGE}", "sign in with a link emailed to the mailbox"),
            ("Mailbox", urls["mailbox"], "every email SES would have sent (sign-up confirmations, sign-in links)"),
            (
                "API",
                urls["api"],
                "POST /register, /billing/checkout, /stripe/webhook, /api/...; any other path needs x-api-key",
            ),
            ("AWS (moto)", urls["moto"], "API Gateway keys + usage plan, DynamoDB, Secrets Manager, SES, S3, SQS"),
            ("Stripe", urls["stripe"], stripe_note),
            (
                "Backend",
                urls["backend"],
                f"metered calls go here with the {contract.BACKEND_SECRET_HEADER} header; a call without it gets 403",
            ),
            ("Moesif collector", collector, "what Moesif would receive:"),
            ("", f"{collector}/_collector/users", "users (one per API key id)"),
            ("", f"{collector}/_collector/companies", "companies (one per subscription)"),
            ("", f"{collector}/_collector/events", "access-log records, one per API call"),
        ]
        width = max(len(url) for _, url, _ in rows)
        lines = ["", "Tollgate is running locally (emulators only: no AWS, Stripe or Moesif account).", ""]
        lines += [f"  {name:<17} {url:<{width}}  {note}" for name, url, note in rows]
        lines += [
            "",
            f"Sign up at {urls['site']}, open the link in the mailbox ({urls['mailbox']}), then call the metered API "
            "with the key the page shows:",
            f'  curl -i {urls["api"]}/hello -H "x-api-key: <your key>"',
            f"Keys look like {self.settings.key_prefix}_test_... (with a Stripe test key); the regular expression that "
            "finds them, for secret scanners:",
            f"  {api_key_format.key_pattern(self.settings.key_prefix)}",
            f"A revoked key, or a suspended account, is refused within {self.settings.authorizer_cache_seconds} s "
            "(authorizer_cache_seconds), as on the stage.",
            "",
            *self._usage_note(),
            "",
            "Ops commands act on this stack while it runs (it publishes its settings for them):",
            "  make status    make failed-accounts    make usage-report    make usage-redrive",
            "The scheduled functions run now, as after a deploy, then the reconciler every "
            f"{_every(self.schedules[contract.HANDLER_RECONCILER][1])}, the housekeeping "
            f"every {_every(self.schedules[contract.HANDLER_HOUSEKEEPING][1])}, the key retirement every "
            f"{_every(self.schedules[contract.HANDLER_KEY_RETIREMENT][1])} "
            '(make dev ARGS="--schedule-seconds 10" to watch them).',
            "",
            self._function_log_note(),
            "Press Ctrl-C to stop.",
        ]
        return "\n".join(lines)

    def _usage_note(self) -> list[str]:
        if not self.settings.reports_usage:
            return ["Every metered call lands in the usage ledger; usage_reporter=moesif: no meter events are sent."]
        return [
            "Every metered call lands in the usage ledger and, seconds later, in the Stripe meter:",
            "  make usage-report    per customer: API Gateway's count, the ledger's, Stripe's units",
        ]

    def _function_log_note(self) -> str:
        if self._function_logs is not None and self._function_logs.level <= logging.INFO:
            return "The functions' log lines and one line per API request show below (--log-requests)."
        return "The functions' warnings and errors show below; every request too with make dev ARGS=--log-requests."


def _every(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"{name} must be a TCP port number (1-65535); got {raw!r}")
    return int(raw)


class _Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM so every `with` block unwinds in order."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
    raise _Stop(signal.Signals(signum).name)


def _wait_for_a_stop_signal() -> None:
    """Block the main thread until SIGINT or SIGTERM raises _Stop in it.

    Not signal.pause(): the kernel hands a signal sent to the process to any thread that does not block
    it, Python runs the handler only in the main thread the next time that thread runs bytecode, and
    pause() returns only for a signal the main thread itself took: when a server thread took it, make
    dev ignored Ctrl-C and `kill` for good (1 stop in 10 in the tests). The C handler also writes to
    the wakeup fd, from whichever thread it ran in: the main thread waits on that, then runs it."""
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.setblocking(False)
        previous = signal.set_wakeup_fd(writer.fileno())
        try:
            while True:
                select.select([reader], [], [])
                reader.recv(64)
        finally:
            signal.set_wakeup_fd(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make dev",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"ports: {SITE_PORT_ENV} (default {DEFAULT_SITE_PORT}) and {API_PORT_ENV} (default {DEFAULT_API_PORT})\n"
        f"while it runs, ops commands (make failed-accounts) act on it: it publishes its settings in "
        f"{DEFAULT_DEV_STACK_FILE.relative_to(PROJECT_ROOT)} ({DEV_STACK_FILE_ENV} moves it)\n"
        f'example: {SITE_PORT_ENV}=9000 {API_PORT_ENV}=9001 make dev ARGS="-c verify_email=false --log-requests"',
    )
    parser.add_argument("--urls-file", type=Path, help="write the URLs as JSON there once ready (for tests)")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a cdk.json context value for this run, as `cdk deploy -c` does (e.g. -c verify_email=false)",
    )
    parser.add_argument(
        "--schedule-seconds",
        type=float,
        metavar="SECONDS",
        help="run the scheduled functions (reconciler, housekeeping) every SECONDS instead of their "
        "deployed intervals, to watch them work",
    )
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="show every log line of the functions (human-readable) and one line per API request; "
        "without it, only their warnings and errors",
    )
    args = parser.parse_args(argv)
    if args.schedule_seconds is not None and args.schedule_seconds <= 0:
        parser.error("--schedule-seconds takes a number of seconds greater than 0, e.g. --schedule-seconds 10")
    if any("=" not in item for item in args.context):
        parser.error("--context takes KEY=VALUE, e.g. -c verify_email=false")
    overrides = dict(item.split("=", 1) for item in args.context)
    site_port = _port_from_env(SITE_PORT_ENV, DEFAULT_SITE_PORT)
    api_port = _port_from_env(API_PORT_ENV, DEFAULT_API_PORT)
    if site_port == api_port:
        print(
            f"make dev: the site and the API need two ports (two origins); both are {site_port}. "
            f"Set {SITE_PORT_ENV} and {API_PORT_ENV} to different ports.",
            file=sys.stderr,
        )
        return EXIT_PORT_IN_USE
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    function_logs = configure_console(log_requests=args.log_requests)
    stack_file = dev_stack_file(os.environ)
    try:
        settings = Settings.from_context({**load_cdk_json_context(PROJECT_ROOT / "cdk.json"), **overrides})
        with DevStack(site_port, api_port, settings, function_logs, args.schedule_seconds) as stack:
            publish_dev_stack(stack_file, stack.function_environment, stack.urls)
            try:
                print(stack.banner(), flush=True)
                if args.urls_file:  # whole or not at all: the test harness reads it as soon as it exists
                    written = args.urls_file.with_name(args.urls_file.name + ".part")
                    written.write_text(json.dumps(stack.urls))
                    written.replace(args.urls_file)
                _wait_for_a_stop_signal()
            finally:
                withdraw_dev_stack(stack_file)
    except _Stop:
        print("\nStopped: every emulator and server is shut down.", flush=True)
        return 0
    except PortInUseError as error:
        variable = SITE_PORT_ENV if error.port == site_port else API_PORT_ENV
        print(f"make dev: {error}\nTo choose another port: {variable}=<port> make dev", file=sys.stderr)
        return EXIT_PORT_IN_USE
    except SettingsError as error:
        print(f"make dev: {error}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return 0


if __name__ == "__main__":
    sys.exit(main())
