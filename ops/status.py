"""One screen about a Tollgate deployment, for an operator at a terminal (`make status`).

It shows the accounts by status, the API keys of the region against API Gateway's quota, the
reconciler's last run and what it repaired, the metering backlog (the usage queue, its dead
letters, the last report and the last one that billed a call), the sign-ups left failed, and the
deployment's alarms that are firing. Every part is read on its own: one that cannot be read (a
missing permission, say) says why, and the others still show. The last line names the parts that
need a look, if any.

It reads with your AWS credentials: the accounts table (Scan), API keys (GET), SQS queue
attributes, the usage reports table (GetItem) and CloudWatch alarms (DescribeAlarms).

Exit status: 0 when every part was read, whatever it shows; 2 when it cannot run, or a part could
not be read. With --exit-code, 1 when every part was read and something needs a look (an alarm
firing, a failed sign-up, dead-lettered usage), as `git diff --exit-code` does for a difference: for
a script or a cron job that alerts on it. Without the option, a screen that needs a look is still a
command that worked: a person reads the screen, and make would otherwise report the target failed
("make: *** [status] Error 1").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, wired_deployment
from ops.text import age, usage_summary
from tollgate import contract
from tollgate.adapters.aws_clients import downstream_error
from tollgate.domain.account import AccountStatus
from tollgate.domain.errors import TollgateError
from tollgate.wiring import Wiring

EXIT_ATTENTION, EXIT_FAILED = 1, 2
LABEL_WIDTH = 13


@dataclass(frozen=True)
class Part:
    """One part of the screen: its lines, and whether an operator should look at it."""

    lines: tuple[str, ...]
    attention: bool = False


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
) -> int:
    arguments = _parser().parse_args(argv)
    try:
        _, wired = wired_deployment(arguments, environ)
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    now = int(clock())
    unreadable, attention = False, []
    for label, read in (
        ("Accounts", _accounts),
        ("API keys", _keys),
        ("Reconciler", _reconciler),
        ("Metering", _metering),
        ("Failed", _failed),
        ("Alarms", _alarms),
    ):
        try:
            part = read(wired, now)
        except (TollgateError, ClientError, BotoCoreError) as error:
            part, unreadable = Part((f"could not read: {error}",)), True
        attention += [label] if part.attention else []
        for number, line in enumerate(part.lines):
            print(f"{label if number == 0 else '':<{LABEL_WIDTH}}{line}", file=out)
    print(f"\nNeeds a look: {', '.join(attention)}." if attention else "\nNothing needs a look.", file=out)
    if unreadable:
        return EXIT_FAILED
    return EXIT_ATTENTION if attention and arguments.exit_code else 0


def _accounts(wired: Wiring, _now: int) -> Part:
    counts = wired.accounts.count_by_status()
    return Part(("  ".join(f"{status.value} {counts.get(status, 0)}" for status in AccountStatus),))


def _keys(wired: Wiring, _now: int) -> Part:
    count = wired.api_keys.count_in_region()
    quota = contract.API_KEYS_PER_REGION
    alarm_at = int(quota * contract.API_KEYS_ALARM_RATIO)
    line = (
        f"{count:,} of {quota:,} in this region ({count / quota:.1%}, every API's keys count; alarm at "
        f"{alarm_at:,}); canceled accounts' keys are deleted after {wired.config.canceled_key_retention_days} days"
    )
    return Part((line,), attention=count >= alarm_at)


def _reconciler(wired: Wiring, now: int) -> Part:
    run = wired.reconciler_runs.last()
    if run is None:
        return Part(
            (
                "no run yet: its schedule runs it as soon as the stack is deployed (make dev: as it starts), "
                "then every reconcile_interval_minutes; if this stays, read its function's logs",
            )
        )
    resumes = f"the next run resumes after {run.cursor}" if run.cursor else "the next run starts from the newest"
    if run.complete:
        how = "complete"
    elif run.succeeded:
        how = f"stopped by its {run.stopped_by}; {resumes}"
    else:
        how = f"stopped by a failing service ({run.stopped_by}); {resumes}"
    lines = [
        f"last run {age(now - run.finished_at)} ago ({_utc(run.finished_at)}), {how}: examined {run.examined}, "
        f"repaired {run.repaired}, could not repair {run.failed}"
    ]
    if run.repairs and run.repairs_at is not None:
        lines.append(f"latest repairs {age(now - run.repairs_at)} ago: {', '.join(run.repairs)}")
    return Part(tuple(lines), attention=not run.succeeded or run.failed > 0)


def _metering(wired: Wiring, now: int) -> Part:
    usage = wired.config.usage
    if usage is None:
        return Part(("usage_reporter=moesif: Moesif's Stripe integration reports usage, not this stack",))
    queue = wired.usage_queues.depth(usage.queue_url)
    dead = wired.usage_queues.depth(usage.dead_letter_queue_url)
    dead_line = (
        f"dead letters {dead.waiting}: run make usage-redrive once the cause is fixed"
        if dead.waiting
        else "dead letters 0"
    )
    return Part(
        (f"usage queue {queue.waiting} waiting, {queue.in_flight} being reported; {dead_line}", *_reports(wired, now)),
        attention=dead.waiting > 0,
    )


def _reports(wired: Wiring, now: int) -> tuple[str, ...]:
    """The newest report (one ledger object: it says the reporter keeps up) and, when that one billed
    nothing (a 403, the site's own calls, a free plan's), the newest that billed a call."""
    latest, billed = wired.usage_reports.latest_summary(), wired.usage_reports.latest_billed_summary()
    if latest is None:
        return ("no usage reported yet",)
    lines = [f"last report {age(now - latest.reported_at)} ago ({_utc(latest.reported_at)}): {usage_summary(latest)}"]
    if billed is None:
        lines.append("nothing billed yet")
    elif billed.source != latest.source:
        lines.append(
            f"last billed {age(now - billed.reported_at)} ago ({_utc(billed.reported_at)}): {usage_summary(billed)}"
        )
    return tuple(lines)


def _failed(wired: Wiring, now: int) -> Part:
    stuck = [
        row for row in wired.accounts.list_by_status(AccountStatus.FAILED, AccountStatus.PENDING) if row.is_stuck(now)
    ]
    if not stuck:
        return Part(("no sign-up left failed",))
    return Part(
        (
            f"{len(stuck)} sign-up(s) left failed or abandoned: make failed-accounts lists them, "
            "ARGS=--clean undoes them",
        ),
        attention=True,
    )


def _alarms(wired: Wiring, _now: int) -> Part:
    prefix = wired.config.deployment_name + contract.ALARM_NAME_SEPARATOR
    try:
        pages = (
            wired.aws.client("cloudwatch")
            .get_paginator("describe_alarms")
            .paginate(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"])
        )
        alarms = [alarm for page in pages for alarm in page["MetricAlarms"]]
    except (ClientError, BotoCoreError) as error:
        raise downstream_error("CloudWatch", "list the alarms", error) from None
    if not alarms:
        return Part((f"no alarm named {prefix!r}...: make dev creates none (a deployed stack has them)",))
    firing = [alarm for alarm in alarms if alarm["StateValue"] == "ALARM"]
    if not firing:
        return Part((f"none firing (of {len(alarms)})",))
    return Part(
        tuple(
            f"FIRING since {_utc(int(alarm['StateUpdatedTimestamp'].timestamp()))}: "
            f"{alarm['AlarmName'].removeprefix(prefix)}"
            for alarm in firing
        ),
        attention=True,
    )


def _utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make status",
        usage='make status ARGS="[--stack NAME | --function NAME] [--exit-code]"',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"{WAYS_TO_CHOOSE}\n\nexamples:\n"
        "  make status                                         # a running make dev\n"
        f'  make status ARGS="--function {EXAMPLE_FUNCTION}"\n'
        "  make status ARGS=--exit-code || notify-the-operator     # from a script or a cron job",
    )
    add_deployment_options(parser)
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when something needs a look (for scripts; like git diff --exit-code)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
