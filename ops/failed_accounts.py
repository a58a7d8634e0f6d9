"""List the sign-ups a rollback could not fully undo, and clean them: `failed` account rows, and
`pending` rows whose lease ran out (their Lambda died mid-way and nobody signed up again since).

    python -m ops.failed_accounts                                   # list
    python -m ops.failed_accounts --clean                           # undo what each row holds
    python -m ops.failed_accounts --function Tollgate-prod-register # settings of a deployed stack

Such a row keeps every id the sign-up recorded (a `failed` one also the reason). `--clean`
undoes them through the same adapters and the same code the register function uses (delete the
key, cancel the subscription, delete the customer) and removes the row once nothing is left;
a row whose undo fails again stays, with the new reason, and the command exits 1.

Settings come from the register function's environment variables (contract.py), read from the
deployed function with `--function`, or from this process's environment (what `make dev` and
the tests use). AWS credentials and region are boto3's usual ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TextIO

from tollgate import wiring
from tollgate.adapters.aws_clients import aws_client
from tollgate.adapters.secrets import SecretStore
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConcurrentUpdate, TollgateError
from tollgate.domain.models import Account, AccountStatus
from tollgate.ports import Accounts


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    arguments = _parser().parse_args(argv)
    try:
        config = RuntimeConfig.from_environ(_function_environment(arguments.function) if arguments.function else environ)
        accounts = wiring.accounts_for(config)
        now = int(time.time())
        failed = accounts.list_by_status(AccountStatus.FAILED) + [
            account for account in accounts.list_by_status(AccountStatus.PENDING)
            if (account.lease_expires_at or 0) < now
        ]
        if not failed:
            print("No failed accounts.", file=out)
            return 0
        for account in failed:
            print(_describe(account, now), file=out)
        if not arguments.clean:
            print(f"{len(failed)} failed account(s). Run with --clean to undo what they hold.", file=out)
            return 0
        secrets = SecretStore(config.secret_arn).load()
        service = wiring.registration_service(
            config, secrets.stripe_secret_key, secrets.moesif_application_id, wiring.api_keys_for(config), accounts
        )
        remaining = 0
        for account in failed:
            leftovers = service.undo_recorded(account)
            if leftovers:
                remaining += 1
                _record_new_reason(accounts, account, leftovers)
                print(f"{account.email}: still failing: {'; '.join(leftovers)}", file=out)
                continue
            try:
                accounts.delete(account.email, account.status, account.attempt_id)
            except ConcurrentUpdate:
                pass  # a new sign-up took the row over meanwhile, after undoing the same ids
            print(f"{account.email}: cleaned", file=out)
        print(f"Cleaned {len(failed) - remaining} of {len(failed)} failed account(s).", file=out)
        return 1 if remaining else 0
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


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


def _function_environment(function_name: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        configuration = aws_client("lambda").get_function_configuration(FunctionName=function_name)
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


def _age(seconds: int) -> str:
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60}m"
    return f"{minutes}m"


def _record_new_reason(accounts: Accounts, account: Account, leftovers: list[str]) -> None:
    updated = replace(account, failure_reason="cleanup failed: " + "; ".join(leftovers))
    try:
        accounts.save(updated, account.status, account.attempt_id)
    except ConcurrentUpdate:
        pass


if __name__ == "__main__":
    sys.exit(main())
