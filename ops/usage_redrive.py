"""Re-send the usage that kept failing, still exactly once.

1. The dead letters: every message in the usage dead-letter queue (a ledger object whose usage
   failed for its 12 deliveries, about 7 hours) is reported again here, through the reporter's own
   code (tollgate.domain.metering.UsageReporter): reports already `reported` are skipped, `pending`
   ones under 24 h old are re-sent under the same identifier (Stripe refuses a repeat). A message
   is removed once its object is fully reported; one that fails again stays, with the reason.
2. The ambiguous reports: a report still `pending` more than 24 h after its first attempt may have
   reached Stripe (an answer lost) while Stripe no longer de-duplicates its identifier, so neither
   the reporter nor this command sends it on its own. They are listed (customer, units, the call
   time, the ledger object); check the customer's usage in the Stripe dashboard (or
   `make usage-report`), then run again with --assume-unreported to send the ones Stripe lacks.
It exits 1 while anything is left (a dead letter that failed again, an ambiguous report not sent),
2 when it cannot run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TextIO

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, connect
from ops.text import usage_summary
from tollgate.adapters.sqs_usage_queues import ledger_objects_in
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import TollgateError
from tollgate.domain.metering import Delivery
from tollgate.domain.usage import STRIPE_DEDUP_WINDOW_SECONDS, ReportRecord
from tollgate.wiring import Wiring

# How long a dead letter being re-sent stays hidden from other readers (one that fails again shows
# up again after it, for the next run).
HOLD_SECONDS = 300
EXIT_LEFT_OVER, EXIT_FAILED = 1, 2


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
    wiring: Callable[[RuntimeConfig], Wiring] = Wiring,
) -> int:
    arguments = _parser().parse_args(argv)
    try:
        deployment = connect(arguments, environ)
        wired = wiring(deployment.config)
        failed = _redrive_dead_letters(wired, deployment.config.require_usage().dead_letter_queue_url, out)
        ambiguous = wired.usage_reports.pending_since_before(int(clock() - STRIPE_DEDUP_WINDOW_SECONDS))
        left = _resolve_ambiguous(wired, ambiguous, arguments.assume_unreported, clock, out)
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_LEFT_OVER if failed or left else 0


def _redrive_dead_letters(wired: Wiring, queue_url: str, out: TextIO) -> int:
    """Report each dead letter's objects again; how many messages failed again."""
    redriven = failed = 0
    while messages := wired.usage_queues.receive(queue_url, HOLD_SECONDS):
        for message in messages:
            try:
                for source in ledger_objects_in(message.body):
                    outcome = wired.usage_reporter.report_object(source)
                    print(
                        f"{source}: {usage_summary(outcome.summary)}: {outcome.count(Delivery.SENT)} meter event(s) sent, "
                        f"{outcome.count(Delivery.ALREADY_REPORTED)} already reported, "
                        f"{outcome.count(Delivery.AMBIGUOUS)} ambiguous (below)",
                        file=out,
                    )
            except TollgateError as error:
                failed += 1
                print(f"dead letter still failing (kept in the queue): {error}", file=out)
                continue
            wired.usage_queues.delete(queue_url, message.receipt_handle)
            redriven += 1
    print(f"Dead letters: {redriven} re-sent, {failed} still failing.", file=out)
    return failed


def _resolve_ambiguous(
    wired: Wiring, ambiguous: list[ReportRecord], send: bool, clock: Callable[[], float], out: TextIO
) -> int:
    """List (or, with `send`, send) the reports pending past Stripe's 24 h; how many are left."""
    if not ambiguous:
        print("No report is pending past Stripe's 24 h de-duplication window.", file=out)
        return 0
    print(f"{len(ambiguous)} report(s) pending for more than 24 h: Stripe may or may not have them.", file=out)
    left = 0
    for record in ambiguous:
        report = record.report
        called = datetime.fromtimestamp(report.timestamp, UTC).isoformat(timespec="seconds")
        line = (
            f"  {report.customer_id}  {report.value} unit(s)  calls up to {called}  first sent "
            f"{(clock() - record.first_attempt_at) / 3600:.0f} h ago  {report.source}  {report.identifier}"
        )
        if not send:
            print(line, file=out)
            left += 1
            continue
        try:
            delivery = wired.usage_reporter.send_ambiguous(record)
        except TollgateError as error:
            print(f"{line}  still failing: {error}", file=out)
            left += 1
            continue
        print(f"{line}  {'sent' if delivery is Delivery.SENT else 'Stripe already had it'}", file=out)
    if not send:
        print("Check these customers' usage in Stripe; run again with --assume-unreported to send them.", file=out)
    return left


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make usage-redrive",
        usage='make usage-redrive ARGS="[--assume-unreported] [--stack NAME | --function NAME]"',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"{WAYS_TO_CHOOSE}\n\nexamples:\n"
        "  make usage-redrive                                         # a running make dev\n"
        f'  make usage-redrive ARGS="--function {EXAMPLE_FUNCTION}"',
    )
    parser.add_argument(
        "--assume-unreported",
        action="store_true",
        help="send the reports pending for more than 24 h (after checking Stripe lacks them)",
    )
    add_deployment_options(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
