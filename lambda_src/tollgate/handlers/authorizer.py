"""The REQUEST authorizer of every metered method: the presented key -> its account, or a deny.

API Gateway calls it with the request's `x-api-key` (its identity source, so its answers are cached by
the key's value for `authorizer_cache_seconds`, infra/authorizer.py) and applies the answer:

- a deny is the stage's 403 (gateway responses ACCESS_DENIED and, for a request without the header,
  UNAUTHORIZED, both with the body a bad key always had: infra/gateway_errors.py);
- an allow names the account (`principalId` = its opaque account id, never the email), carries
  {accountId, plan, keyHint} as `$context.authorizer.*` (the access log records them, never the key),
  and gives `usageIdentifierKey` = the account's ONE API Gateway key: the REST API's key source is
  AUTHORIZER, so the usage plan throttles and counts that key, per account, whichever of the
  account's keys called (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html).

An account over a usage limit (the key item's copy of the row's, in force until its period ends:
tollgate.domain.usage_limit) is ALLOWED, with `usageIdentifierKey` = the "limit reached" key
(contract.ENV_LIMIT_REACHED_KEY), whose usage plan's quota is 0: the stage itself answers its 429
QUOTA_EXCEEDED, whose body names the limit's code, end and message from this answer's context
(infra/gateway_errors.py). A Deny could only give the stage's 403. Every allow carries those three
context values; without a limit they say `quota_exceeded` with no end, which is what a 429
QUOTA_EXCEEDED then means: the account's own usage plan's quota. Without the "limit reached" key (a
deployment that counts no usage) a limited account is denied.

The policy allows the whole stage (`<api>/<stage>/*`), not just the method called: a cached answer is
reused for every method the key calls, and a policy naming one method would deny the others.

Small on purpose (its cold start is in front of a customer's call): boto3, the key format and the
decision (tollgate.domain.key_authorization) only — no Stripe, Moesif or Powertools. The DynamoDB
client is made on the first call, with short timeouts and a few retries: a failure raises, which API
Gateway answers 500 (AUTHORIZER_FAILURE, the stage's DEFAULT_5XX body) and does not cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tollgate import contract
from tollgate.domain.key_authorization import Denial, Grant, decide, worth_a_read

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

# What a cache miss may cost: API Gateway waits for the authorizer within its 29 s integration limit,
# but a customer's call should fail fast rather than wait for a slow table.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
MAX_ATTEMPTS = 3
DENIED_PRINCIPAL = "anonymous"  # a deny must name a principal; an unknown key has no account
_READ_ATTRIBUTES = (
    contract.KEYS_ATTR_STATE,
    contract.KEYS_ATTR_NOT_AFTER,
    contract.KEYS_ATTR_ACCOUNT_STATUS,
    contract.KEYS_ATTR_ACCOUNT_ID,
    contract.KEYS_ATTR_PLAN,
    contract.KEYS_ATTR_HINT,
    contract.KEYS_ATTR_USAGE_KEY,
    contract.KEYS_ATTR_USAGE_LIMIT,
    contract.KEYS_ATTR_USAGE_LIMIT_UNTIL,
)


class KeysTable:
    """GetItem on the keys table by key hash, as plain values; the client is made on first use."""

    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self._table_name = table_name
        self._client = client

    def client(self) -> Any:
        """The DynamoDB client, made on first use: its service model is most of a cold start's work, and
        a process that is never called (an import check, a benchmark) need not pay it."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "dynamodb",
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                    retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                ),
            )
        return self._client

    def item(self, key_hash: str) -> dict[str, Any] | None:
        names = {f"#a{index}": name for index, name in enumerate(_READ_ATTRIBUTES)}
        answer = self.client().get_item(
            TableName=self._table_name or os.environ[contract.ENV_KEYS_TABLE],
            Key={contract.KEYS_PARTITION_KEY: {"S": key_hash}},
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        found = answer.get("Item")
        return None if found is None else {name: plain_attribute(value) for name, value in found.items()}


class KeyLookup(Protocol):
    """What the authorizer reads keys through (KeysTable; a stand-in in benchmarks)."""

    def item(self, key_hash: str) -> dict[str, Any] | None: ...


class Authorizer:
    """The presented key -> API Gateway's authorizer answer (`keys` and `clock` injectable for tests)."""

    def __init__(
        self, keys: KeyLookup, clock: Callable[[], float] = time.time, limit_reached_key: str | None = None
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._limit_reached_key = limit_reached_key  # None: read from the environment on each use

    def __call__(self, event: Mapping[str, Any], _context: Any = None) -> dict[str, Any]:
        presented = _header(event, contract.API_KEY_HEADER) or ""
        stage_arn = _stage_arn(event["methodArn"])
        hint = presented[-4:]
        if not worth_a_read(presented):
            decision: Grant | Denial = Denial("not a key")
        else:
            decision = decide(self._keys.item(hashlib.sha256(presented.encode()).hexdigest()), self._clock())
        limit_key = self._limit_reached_key or os.environ.get(contract.ENV_LIMIT_REACHED_KEY)
        if isinstance(decision, Grant) and decision.usage_limit and not limit_key:
            decision = Denial(f"usage limit {decision.usage_limit} and no limit-reached key")
        if isinstance(decision, Denial):
            log.info("denied key ...%s: %s", hint, decision.reason)
            return _answer(DENIED_PRINCIPAL, "Deny", stage_arn, {contract.AUTHORIZER_CONTEXT_KEY_HINT: hint})
        limit = decision.usage_limit or contract.USAGE_LIMIT_QUOTA_EXCEEDED
        log.info(
            "allowed key ...%s of %s on %s%s",
            decision.key_hint,
            decision.account_id,
            decision.plan,
            f", {limit} until {decision.usage_limit_until}" if decision.usage_limit else "",
        )
        answer = _answer(
            decision.account_id,
            "Allow",
            stage_arn,
            {
                contract.AUTHORIZER_CONTEXT_ACCOUNT_ID: decision.account_id,
                contract.AUTHORIZER_CONTEXT_PLAN: decision.plan,
                contract.AUTHORIZER_CONTEXT_KEY_HINT: decision.key_hint,
                contract.AUTHORIZER_CONTEXT_USAGE_LIMIT: limit,
                contract.AUTHORIZER_CONTEXT_USAGE_LIMIT_UNTIL: _iso(decision.usage_limit_until),
                contract.AUTHORIZER_CONTEXT_USAGE_LIMIT_MESSAGE: contract.USAGE_LIMIT_MESSAGES.get(
                    limit, contract.USAGE_LIMIT_MESSAGES[contract.USAGE_LIMIT_QUOTA_EXCEEDED]
                ),
            },
        )
        answer["usageIdentifierKey"] = limit_key if decision.usage_limit else decision.usage_key
        return answer


def _answer(principal: str, effect: str, stage_arn: str, context: dict[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": f"{stage_arn}/*"}],
        },
        "context": context,
    }


def _iso(epoch_seconds: int | None) -> str:
    """`2026-01-01T00:00:00Z`, or "" for none."""
    if epoch_seconds is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def _stage_arn(method_arn: str) -> str:
    """arn:...:<api id>/<stage> of arn:...:<api id>/<stage>/<method>/<path>."""
    return "/".join(method_arn.split("/", 2)[:2])


def _header(event: Mapping[str, Any], name: str) -> str | None:
    """A header of the request, whatever case the client wrote its name in."""
    return next((value for key, value in (event.get("headers") or {}).items() if key.lower() == name), None)


def plain_attribute(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value ({"S": ...}, {"N": ...}, ...) as a plain value (numbers as float)."""
    ((kind, raw),) = value.items()
    return float(raw) if kind == "N" else raw


handler = Authorizer(KeysTable())
