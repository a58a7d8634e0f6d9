"""List the sign-ups a rollback could not fully undo, and clean them up.

It finds three kinds: `failed` account rows (an undo failed too), `pending` rows whose lease ran
out (their Lambda died mid-way and nobody signed up again since), and orphaned API keys (named
`tollgate-…`, recorded by no row, older than the lease: the email was taken and deleting the key
failed, or the Lambda died before recording the key id). Each row keeps every id the sign-up
recorded, and a `failed` one the reason.

Without --clean it only lists them. With --clean it undoes what each row holds through the same
adapters and code as the register function (delete the key, cancel the subscription, delete the
customer), removes the row once nothing is left, and deletes the orphaned keys (they are in no
usage plan, so they never could call the API). A row or key whose undo fails again stays, with
the new reason, and the command exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TextIO

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, wired_deployment
from ops.text import age
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.cleanup import Cleanup
from tollgate.domain.errors import ConcurrentUpdate, TollgateError
from tollgate.domain.models import ListedKey
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.keys import ApiKeys


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
) -> int:
    arguments = _parser().parse_args(argv)
    try:
        _, wired = wired_deployment(arguments, environ)
        accounts, api_keys = wired.accounts, wired.api_keys
        now = int(clock())
        failed = [
            account
            for account in accounts.list_by_status(AccountStatus.FAILED, AccountStatus.PENDING)
            if account.is_stuck(now)
        ]
        orphans = wired.cleanup.orphaned_keys(now)
        if not failed and not orphans:
            print("No failed accounts and no orphaned keys.", file=out)
            return 0
        for account in failed:
            print(_describe(account, now), file=out)
        for key in orphans:
            print(_describe_orphan(key, now), file=out)
        if not arguments.clean:
            print(
                f"{len(failed)} failed account(s), {len(orphans)} orphaned key(s). "
                "Run with --clean to undo what they hold.",
                file=out,
            )
            return 0
        remaining = _delete_orphans(api_keys, orphans, out)
        if failed:
            remaining += _clean_rows(wired.cleanup, accounts, failed, out)
        print(f"Cleaned {len(failed) + len(orphans) - remaining} of {len(failed) + len(orphans)}.", file=out)
        return 1 if remaining else 0
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _clean_rows(cleanup: Cleanup, accounts: Accounts, failed: list[Account], out: TextIO) -> int:
    """Undo what each row holds, then remove it; return how many rows still hold something."""
    remaining = 0
    for account in failed:
        outcome = cleanup.undo(account)
        if outcome.leftovers:
            remaining += 1
            cleanup.keep_failed(outcome.account, "cleanup failed: " + "; ".join(outcome.leftovers), read=account)
            print(f"{account.email}: still failing: {'; '.join(outcome.leftovers)}", file=out)
            continue
        # ConcurrentUpdate: a new sign-up took the row over meanwhile, after undoing the same ids.
        with suppress(ConcurrentUpdate):
            accounts.delete(account)
        print(f"{account.email}: cleaned", file=out)
    return remaining


def _delete_orphans(api_keys: ApiKeys, orphans: list[ListedKey], out: TextIO) -> int:
    remaining = 0
    for key in orphans:
        try:
            api_keys.delete_key(key.id)
        except TollgateError as error:
            remaining += 1
            print(f"orphaned key {key.id}: still failing: {error}", file=out)
            continue
        print(f"orphaned key {key.id}: deleted", file=out)
    return remaining


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make failed-accounts",
        usage='make failed-accounts ARGS="[--clean] [--stack NAME | --function NAME]"',
        description=__doc__,
        epilog=f"{WAYS_TO_CHOOSE}\n\nexamples:\n"
        "  make failed-accounts                                   # a running make dev\n"
        f'  make failed-accounts ARGS="--function {EXAMPLE_FUNCTION}"\n'
        f'  make failed-accounts ARGS="--function {EXAMPLE_FUNCTION} --clean"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clean", action="store_true", help="undo what each failed row holds, then remove it")
    add_deployment_options(parser)
    return parser


def _describe(account: Account, now: int) -> str:
    ids = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("key", account.api_key_id),
            ("customer", account.customer_id),
            ("subscription", account.subscription_id),
        )
        if value
    )
    reason = account.failure_reason or "abandoned mid-way (lease expired)"
    return f"{account.email}  {account.status.value} {age(now - account.updated_at)} ago  [{ids or 'no ids'}]  {reason}"


def _describe_orphan(key: ListedKey, now: int) -> str:
    return f"orphaned key {key.id}  {key.name}  created {age(now - key.created_at)} ago  no account records it"


if __name__ == "__main__":
    sys.exit(main())
