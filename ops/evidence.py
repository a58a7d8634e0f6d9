"""The evidence behind a customer's invoice, for the owner: the same CSV the account page downloads
(one row per billed call: time, request id, method, path, status, plan, price), for any account.

By default the account's current billing period (its upcoming invoice's, read from Stripe); with
--from/--to, the calls billed on those UTC days. The file is made as the account page makes it
(tollgate.domain.evidence: the customer's evidence objects of the period, compacted into one under
evidence-downloads/), read with your AWS credentials, and written to --out (default: standard
output). A summary (rows, period, seconds) goes to standard error. Exits 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, connect
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import TollgateError
from tollgate.domain.evidence import NO_BILLING_PERIOD, PeriodFile
from tollgate.domain.validation import normalise_email
from tollgate.wiring import Wiring

EXIT_FAILED = 2


def period_file(wired: Wiring, email: str, since: date | None, to: date | None) -> PeriodFile:
    """The account's evidence file for the period asked (TollgateError naming what is missing)."""
    account = wired.accounts.get(normalise_email(email))
    if account is None:
        raise TollgateError(f"no account has the email {email}: check the address (make status lists accounts)")
    if account.customer_id is None:
        raise TollgateError(f"{email} has no Stripe customer, so nothing was ever billed to it")
    if since is not None and to is not None:
        start = int(datetime.combine(since, datetime.min.time(), UTC).timestamp())
        end = int(datetime.combine(to + timedelta(days=1), datetime.min.time(), UTC).timestamp())
    elif account.subscription_id is None:
        raise TollgateError(f"{email}: {NO_BILLING_PERIOD} Pass --from and --to for the days of an earlier one.")
    else:
        invoice = wired.account_billing.upcoming_invoice(account.subscription_id)
        start, end = invoice.period_start, invoice.period_end
    return wired.usage_evidence.period_file(account.customer_id, start, end)


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: BinaryIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    wiring: Callable[[RuntimeConfig], Wiring] = Wiring,
) -> int:
    arguments = _parser().parse_args(argv)
    if (arguments.since is None) != (arguments.to is None) or (arguments.to and arguments.to < arguments.since):
        print(
            "error: give both --from and --to, --to on or after --from (or neither: the current period)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    began = clock()
    try:
        wired = wiring(connect(arguments, environ).config)
        file = period_file(wired, arguments.email, arguments.since, arguments.to)
        target = open(arguments.out, "wb") if arguments.out else None  # noqa: SIM115 (closed below)
        try:
            sink = target or out or sys.stdout.buffer
            for chunk in wired.usage_evidence.read(file):
                sink.write(chunk)
            sink.flush()
        finally:
            if target:
                target.close()
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"{file.rows} billed calls of {arguments.email} ({file.customer_id}) from {_utc(file.start)} to "
        f"{_utc(file.end)}, from {file.objects} evidence objects, in {clock() - began:.1f} s"
        f"{f', written to {arguments.out}' if arguments.out else ''}.",
        file=sys.stderr,
    )
    return 0


def _utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make evidence",
        usage='make evidence ARGS="--email EMAIL [--from DAY --to DAY] [--out FILE] [--stack NAME | --function NAME]"',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"{WAYS_TO_CHOOSE}\n\nexamples:\n"
        '  make evidence ARGS="--email ada@example.com"                 # current period, on a running make dev\n'
        '  make evidence ARGS="--email ada@example.com --from 2026-11-01 --to 2026-11-30 --out ada-nov.csv '
        f'--function {EXAMPLE_FUNCTION}"',
    )
    parser.add_argument("--email", required=True, help="the account's email address")
    parser.add_argument(
        "--from",
        dest="since",
        type=date.fromisoformat,
        metavar="DAY",
        help="first UTC day, YYYY-MM-DD (default: the current billing period)",
    )
    parser.add_argument("--to", type=date.fromisoformat, metavar="DAY", help="last UTC day, included, YYYY-MM-DD")
    parser.add_argument("--out", metavar="FILE", help="write the CSV here (default: standard output)")
    add_deployment_options(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
