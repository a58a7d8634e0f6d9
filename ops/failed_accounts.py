"""List the sign-ups a rollback could not fully undo, and clean them: `failed` account rows,
`pending` rows whose lease ran out (their Lambda died mid-way and nobody signed up again since),
and orphaned API keys (named `tollgate-…`, recorded by no row, older than the lease: the email was
taken and deleting the key failed, or the Lambda died before recording the key id).

    python -m ops.failed_accounts                                   # list
    python -m ops.failed_accounts --clean                           # undo what each row holds
    python -m ops.failed_accounts --function Tollgate-prod-register # settings of a deployed stack

Such a row keeps every id the sign-up recorded (a `failed` one also the reason). `--clean`
undoes them through the same adapters and the same code the register function uses (delete the
key, cancel the subscription, delete the customer) and removes the row once nothing is left,
and deletes the orphaned keys (an orphaned key is in no usage plan, so it never could call the
API); a row or key whose undo fails again stays, with the new reason, and the command exits 1.

Settings come from the register function's environment variables (contract.py), read from the
deployed function with `--function`, or from this process's environment (what `make dev` and
the tests use). AWS credentials and region are boto3's usual ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from tollgate.adapters.aws_clients import AwsClients
from tollgate.config import RuntimeConfig
from tollgate.domain.cleanup import Cleanup
from tollgate.domain.errors import ConcurrentUpdate, ConfigurationError, TollgateError
from tollgate.domain.models import Account, AccountStatus, ListedKey
from tollgate.ports import Accounts, ApiKeys
from tollgate.wiring import Wiring


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
) -> int:
    arguments = _parser().parse_args(argv)
    try:
        _require_aws_session()
        deployment = Wiring(_settings(arguments.function, environ))
        accounts, api_keys = deployment.accounts, deployment.api_keys
        now = int(clock())
        failed = accounts.list_by_status(AccountStatus.FAILED) + [
            account for account in accounts.list_by_status(AccountStatus.PENDING)
            if (account.lease_expires_at or 0) < now
        ]
        orphans = deployment.cleanup.orphaned_keys(now)
        if not failed and not orphans:
            print("No failed accounts and no orphaned keys.", file=out)
            return 0
        for account in failed:
            print(_describe(account, now), file=out)
        for key in orphans:
            print(_describe_orphan(key, now), file=out)
        if not arguments.clean:
            print(f"{len(failed)} failed account(s), {len(orphans)} orphaned key(s). "
                  "Run with --clean to undo what they hold.", file=out)
            return 0
        remaining = _delete_orphans(api_keys, orphans, out)
        if failed:
            remaining += _clean_rows(deployment.cleanup, accounts, failed, out)
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
            cleanup.keep_failed(outcome.account, "cleanup failed: " + "; ".join(outcome.leftovers),
                                attempt_id=account.attempt_id)
            print(f"{account.email}: still failing: {'; '.join(outcome.leftovers)}", file=out)
            continue
        try:
            accounts.delete(account.email, account.status, account.attempt_id)
        except ConcurrentUpdate:
            pass  # a new sign-up took the row over meanwhile, after undoing the same ids
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
    parser = argparse.ArgumentParser(prog="python -m ops.failed_accounts", description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="undo what each failed row holds, then remove it")
    parser.add_argument(
        "--function",
        metavar="NAME",
        help="read the settings from this deployed register function (e.g. Tollgate-prod-register) "
        "instead of the environment",
    )
    return parser


def _require_aws_session() -> None:
    """Fail before any call, with what to do, when boto3 has no region or no credentials."""
    import boto3

    session = boto3.Session()
    if session.region_name is None:
        raise TollgateError("no AWS region: set AWS_DEFAULT_REGION (e.g. AWS_DEFAULT_REGION=eu-west-1) to the "
                            "stack's region, or `region` in ~/.aws/config.")
    if session.get_credentials() is None:
        raise TollgateError("no AWS credentials: configure them as for the AWS CLI (`aws configure`, AWS_PROFILE, "
                            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).")


def _settings(function_name: str | None, environ: Mapping[str, str]) -> RuntimeConfig:
    if function_name:
        return RuntimeConfig.from_environ(_function_environment(function_name))
    try:
        return RuntimeConfig.from_environ(environ)
    except ConfigurationError as error:
        raise ConfigurationError(
            f"{error} Pass --function <the deployed register function, e.g. Tollgate-prod-register> to read "
            "the settings from it, or set the TOLLGATE_* variables."
        ) from None


def _function_environment(function_name: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        configuration = AwsClients().client("lambda").get_function_configuration(FunctionName=function_name)
    except (BotoCoreError, ClientError) as error:
        raise TollgateError(f"cannot read the settings of function {function_name}: {error}") from None
    return configuration.get("Environment", {}).get("Variables", {})


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
    return f"{account.email}  {account.status.value} {_age(now - account.updated_at)} ago  [{ids or 'no ids'}]  {reason}"


def _describe_orphan(key: ListedKey, now: int) -> str:
    return f"orphaned key {key.id}  {key.name}  created {_age(now - key.created_at)} ago  no account records it"


def _age(seconds: int) -> str:
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60}m"
    return f"{minutes}m"


if __name__ == "__main__":
    sys.exit(main())
