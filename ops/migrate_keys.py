"""Import the API keys customers hold from before Tollgate-issued keys (issue 20) into the keys table
(upgrade step; docs/deploying.md, "Upgrading").

Before, the key a customer held was an API Gateway key's value; now the stage's authorizer resolves a
presented key by its SHA-256 in the keys table, so every existing client gets 403 until its key is
imported. This command gives each account row an account id, makes its API Gateway key the
account's usage key, and writes an item for each of its keys that can still call (the hash of the
value, the same state), so existing clients keep working unchanged
(tollgate.domain.key_migration says exactly what it does).

A DRY RUN by default: it reads the accounts table and API Gateway and prints, per row, which keys
it would import (API Gateway key id -> new key id and hint; never a value). `--apply` writes. Run
again, it changes nothing (rows already imported say `done`). It needs, with your own AWS
credentials: apigateway:GET on the keys (with their values), dynamodb read/write on the accounts,
keys and customer access tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, wired_deployment
from tollgate.domain.errors import TollgateError
from tollgate.domain.key_migration import DONE, IMPORTED, WOULD_IMPORT, KeyMigration


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    arguments = _parser().parse_args(argv)
    try:
        _, wired = wired_deployment(arguments, environ)
        migration = KeyMigration(wired.accounts, wired.api_keys, wired.key_items, wired.customer_access)
        outcomes: Counter[str] = Counter()
        keys = gone = 0
        for row in sorted(migration.rows(), key=lambda account: account.email):
            done = migration.migrate(row, apply=arguments.apply)
            outcomes[done.outcome] += 1
            keys, gone = keys + len(done.imported), gone + len(done.gone)
            if done.outcome != DONE:
                print(
                    f"{done.email}  {done.outcome}: {', '.join(done.imported) or 'no key'}"
                    + (f"; not in API Gateway: {', '.join(done.gone)}" if done.gone else ""),
                    file=out,
                )
        verb = "imported" if arguments.apply else "to import"
        rows = outcomes[IMPORTED] if arguments.apply else outcomes[WOULD_IMPORT]
        print(
            f"{rows} row(s) {verb} ({keys} key(s), {gone} gone), {outcomes[DONE]} already done."
            + ("" if arguments.apply else " Dry run: nothing was written; run again with --apply."),
            file=out,
        )
        return 0
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make migrate-keys",
        usage='make migrate-keys ARGS="[--apply] [--stack NAME | --function NAME]"',
        description=__doc__,
        epilog=f'{WAYS_TO_CHOOSE}\n\nexample:\n  make migrate-keys ARGS="--function {EXAMPLE_FUNCTION} --apply"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--apply", action="store_true", help="write (without it: a dry run that only reports)")
    add_deployment_options(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
