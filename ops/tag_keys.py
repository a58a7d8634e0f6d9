"""Tag every API key the accounts table records with this deployment's owner tag (upgrade step).

Since Tollgate 0.2 the functions may read, enable, disable or delete only keys that carry
`tollgate:deployment` = <stack>/<stage> (contract.API_KEY_OWNER_TAG; their IAM is conditioned on
it). Keys created before carry no tag, so the webhook and the reconciler could no longer disable a
non-payer's old key. Run this once after the upgrade's deploy, with your own AWS credentials (it
needs apigateway:GET on the keys and apigateway:PUT on their tags):

- a key without the tag is tagged (`tagged`);
- a key that has it with this deployment's value is left alone (`already tagged`), so running
  again changes nothing;
- a key tagged for another deployment is left alone and reported: two deployments' accounts
  tables should never record one key (exit 1);
- a key that no longer exists is reported (`gone`) and skipped.
Every API Gateway key a row records (its usage key, keys from before issue 20) is looked at, whatever the row's status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.deployment import EXAMPLE_FUNCTION, WAYS_TO_CHOOSE, add_deployment_options, wired_deployment
from tollgate import contract
from tollgate.adapters.aws_clients import downstream_error, error_code
from tollgate.domain.account import AccountStatus
from tollgate.domain.errors import TollgateError

TAGGED, ALREADY, OTHER_OWNER, GONE = "tagged", "already tagged", "tagged for another deployment", "gone"


class KeyTagger:
    """The owner tag on API Gateway keys, through one boto3 `apigateway` client."""

    def __init__(self, client: Any, owner: str):
        self._client = client
        self._owner = owner

    def claim(self, key_id: str) -> tuple[str, str | None]:
        """Tag the key as this deployment's unless it carries an owner tag; (what happened, the
        owner it carried)."""
        try:
            tags = self._client.get_api_key(apiKey=key_id).get("tags") or {}
            owner = tags.get(contract.API_KEY_OWNER_TAG)
            if owner is not None:
                return (ALREADY if owner == self._owner else OTHER_OWNER), owner
            self._client.tag_resource(resourceArn=self._arn(key_id), tags={contract.API_KEY_OWNER_TAG: self._owner})
            return TAGGED, None
        except ClientError as error:
            if error_code(error) == "NotFoundException":
                return GONE, None
            raise downstream_error("API Gateway", f"tag key {key_id}", error) from None
        except BotoCoreError as error:
            raise downstream_error("API Gateway", f"tag key {key_id}", error) from None

    def _arn(self, key_id: str) -> str:
        return f"arn:{self._client.meta.partition}:apigateway:{self._client.meta.region_name}::/apikeys/{key_id}"


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    arguments = _parser().parse_args(argv)
    try:
        deployment, wired = wired_deployment(arguments, environ)
        owner = deployment.config.key_owner
        tagger = KeyTagger(wired.aws.client("apigateway"), owner)
        recorded = {
            key_id: account.email
            for status in AccountStatus
            for account in wired.accounts.list_by_status(status)
            for key_id in account.gateway_key_ids
        }
        outcomes: Counter[str] = Counter()
        for key_id, email in sorted(recorded.items()):
            outcome, other = tagger.claim(key_id)
            outcomes[outcome] += 1
            print(
                f"{key_id}  {email}  {outcome}{f' ({other}); left alone' if outcome == OTHER_OWNER else ''}", file=out
            )
        summary = ", ".join(f"{outcomes[o]} {o}" for o in (TAGGED, ALREADY, OTHER_OWNER, GONE) if outcomes[o])
        print(
            f"{len(recorded)} key(s) recorded: {summary or 'nothing to do'}. "
            f"Owner tag {contract.API_KEY_OWNER_TAG}={owner}.",
            file=out,
        )
        return 1 if outcomes[OTHER_OWNER] else 0
    except TollgateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make tag-keys",
        usage='make tag-keys ARGS="[--stack NAME | --function NAME]"',
        description=__doc__,
        epilog=f'{WAYS_TO_CHOOSE}\n\nexample:\n  make tag-keys ARGS="--function {EXAMPLE_FUNCTION}"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_deployment_options(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
