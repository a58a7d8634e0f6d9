"""`make smoke`: the owner's acceptance test of a deployed Tollgate, end to end, against the real
AWS and Stripe (test mode) accounts it runs on, or against `make dev` (--dev).

One new customer goes through what every customer does, each step timed and checked:

  1. sign up on the default plan (the signup page's route; with verify_email, the confirmation
     link is one the owner stores with their AWS credentials: see ops/smoke_steps.py)
  2. call the API --calls times with the key
  3. wait until Stripe's meter shows exactly that many units for the customer
  4. sign in and read the account API
  5. rotate the key; both keys work during the grace
  6. change plan and back; the key stays
  7. cancel the subscription in Stripe; every key is refused (403)

then everything it created is removed, whatever step failed: the Stripe customer (and so its
subscription), the API keys, the sessions, the links and the account row (each action reported).
The usage ledger and its reports keep the run's calls: they are billing evidence, shared with other
customers' calls. A step that fails stops the run (the next ones need it); the exit status is 1
when a step or a clean-up action failed, 2 when it cannot start.

It refuses a live-mode Stripe key (sk_live_ / rk_live_) unless --live: it creates a customer and
bills calls. It reads with your AWS credentials: the stack's outputs (DescribeStacks), the register
function's settings (GetFunctionConfiguration), the Stripe secret, and it writes the customer
access and accounts tables and deletes the API keys it created.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from ops.deployment import (
    DEV_STACK_FILE_ENV,
    dev_deployment,
    dev_stack_file,
    find_deployment,
    running_dev_urls,
    stack_outputs,
)
from ops.smoke_steps import Options, SmokeRun
from tollgate import contract
from tollgate.domain.errors import TollgateError
from tollgate.wiring import Wiring

EXIT_FAILED, EXIT_CANNOT_RUN = 1, 2
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
# SES delivers to its mailbox simulator even in the sandbox, and accepts labels after a '+', so every
# run signs up a new address without a verified recipient
# (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator).
SIMULATOR_ADDRESS = "success+tollgate-smoke-{run}@simulator.amazonses.com"


@dataclass(frozen=True)
class Target:
    """The deployment's adapters (the owner's credentials) and its two public origins."""

    wired: Wiring
    api_url: str
    site_url: str
    source: str


def find_target(arguments: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    if arguments.dev:
        stack_file = dev_stack_file(environ)
        deployment, urls = dev_deployment(stack_file), running_dev_urls(stack_file)
        if deployment is None or not urls:
            raise TollgateError(
                f"no running make dev ({stack_file}): start `make dev` in another terminal, or leave "
                f"out --dev to test the deployed stack {contract.STACK_NAME}"
            )
        deployment.connect()
        return Target(Wiring(deployment.config), urls["api"], urls["site"], deployment.source)
    deployment = find_deployment(environ, stack_name=arguments.stack)
    deployment.connect()
    outputs = stack_outputs(arguments.stack)
    missing = [
        name for name in (contract.STACK_OUTPUT_API_URL, contract.STACK_OUTPUT_SIGNUP_URL) if name not in outputs
    ]
    if missing:
        raise TollgateError(
            f"stack {arguments.stack} has no {' or '.join(missing)} output: deploy this version first (`make deploy`)"
        )
    return Target(
        Wiring(deployment.config),
        outputs[contract.STACK_OUTPUT_API_URL],
        outputs[contract.STACK_OUTPUT_SIGNUP_URL],
        deployment.source,
    )


def refuse_live_key(wired: Wiring, live: bool) -> None:
    key = wired.stripe_secret.load().field(contract.SECRET_FIELD_STRIPE_SECRET_KEY)
    if key.startswith(LIVE_KEY_PREFIXES) and not live:
        raise TollgateError(
            "the deployment's Stripe key is a live-mode key: make smoke would bill a real customer. "
            "Run it on a deployment with a test-mode key (sk_test_...), or pass --live to accept that"
        )


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    before_step: Callable[[str], None] = lambda _step: None,
) -> int:
    """`before_step(name)` runs before each step: the tests make one fail there (the clean-up must
    still remove everything)."""
    arguments = _parser().parse_args(argv)
    try:
        target = find_target(arguments, environ)
        refuse_live_key(target.wired, arguments.live)
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(f"Smoke test of {target.source}: API {target.api_url}, site {target.site_url}", file=out)
    options = Options(
        calls=arguments.calls,
        path=arguments.path,
        timeout=arguments.timeout,
        poll_seconds=arguments.poll_seconds,
        email=arguments.email or SIMULATOR_ADDRESS.format(run=uuid.uuid4().hex[:12]),
    )
    run = SmokeRun(target.wired, target.api_url, target.site_url, options, sleep=sleep)
    steps = (
        ("sign up on the default plan", run.sign_up),
        (f"call the API {options.calls} times", run.call_api),
        ("Stripe's meter shows the calls", run.meter),
        ("read the account API", run.account),
        ("rotate the key, both work", run.rotate),
        ("change plan and back", run.change_plan),
        ("cancel, the keys are refused", run.cancel),
    )
    started = clock()
    rows: list[tuple[str, float | None, str]] = []
    failed: str | None = None
    try:
        for name, step in steps:
            if failed:
                rows.append((name, None, "not run"))
                continue
            step_started = clock()
            try:
                before_step(name)
                result = step()
            except Exception as error:  # noqa: BLE001 - a smoke test reports any failure and cleans up
                failed, result = name, f"FAILED: {error}"
            rows.append((name, clock() - step_started, result))
            print(_row(*rows[-1]), file=out, flush=True)
    finally:
        cleaned = run.clean_up()
    for name, seconds, result in rows:
        if seconds is None:
            print(_row(name, seconds, result), file=out)
    print("Clean-up:", file=out)
    for what, problem in cleaned:
        print(f"  {'done' if problem is None else 'FAILED'}: {what}{f' ({problem})' if problem else ''}", file=out)
    leftovers = [what for what, problem in cleaned if problem is not None]
    passed = sum(1 for _, seconds, result in rows if seconds is not None and not result.startswith("FAILED"))
    summary = f"smoke: {passed}/{len(steps)} steps passed in {clock() - started:.0f} s"
    summary += f"; {failed!r} failed" if failed else ""
    summary += f"; clean-up left {len(leftovers)}: {', '.join(leftovers)}" if leftovers else ""
    print(summary, file=out)
    return EXIT_FAILED if failed or leftovers else 0


def _row(name: str, seconds: float | None, result: str) -> str:
    return f"{name:<32} {'-' if seconds is None else f'{seconds:6.1f} s':>8}  {result}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make smoke",
        usage='make smoke ARGS="[--stack NAME | --dev] [--calls N] [--timeout S] [--poll-seconds S] '
        '[--path PATH] [--email ADDRESS] [--live]"',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        f"  make smoke                                  # the deployed stack {contract.STACK_NAME}, "
        "your AWS credentials and region\n"
        '  make smoke ARGS="--dev --poll-seconds 1"   # a running make dev\n'
        f"--dev finds make dev by {DEV_STACK_FILE_ENV} (default .tollgate/dev-stack.json).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--stack",
        metavar="NAME",
        default=contract.STACK_NAME,
        help=f"the deployed CloudFormation stack (default {contract.STACK_NAME})",
    )
    where.add_argument("--dev", action="store_true", help="test the running make dev instead")
    parser.add_argument(
        "--calls",
        type=_positive(int),
        default=5,
        metavar="N",
        help="metered calls to make and find in Stripe's meter (default 5)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=600,
        metavar="SECONDS",
        help="how long to wait for Stripe's meter and for the cut-off (default 600: Firehose "
        "buffers up to 60 s, Stripe's meter summaries take minutes)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=_positive(float),
        default=10,
        metavar="SECONDS",
        help="how often to look while waiting (default 10)",
    )
    parser.add_argument(
        "--path",
        default="/",
        metavar="PATH",
        help="the metered path to call; your backend must answer it 2xx (default /)",
    )
    parser.add_argument(
        "--email",
        metavar="ADDRESS",
        help="the customer's address (default: a new label of SES's mailbox simulator, "
        "success+...@simulator.amazonses.com, which works in the SES sandbox)",
    )
    parser.add_argument("--live", action="store_true", help="accept a live-mode Stripe key (bills a real customer)")
    return parser


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


if __name__ == "__main__":
    sys.exit(main())
