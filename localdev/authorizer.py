"""The stage's Lambda authorizer step, for the local gateway: the real authorizer handler, run as API
Gateway runs a REQUEST authorizer with a result cache (infra/authorizer.py).

- Identity source: the `x-api-key` header. A request without it (or with it empty) is refused 401
  UNAUTHORIZED without calling the function ("runtime validation of the REQUEST authorizer by
  verifying all of the identity-related request parameters are present, not null and non-empty ...
  otherwise, it returns a 401 Unauthorized response without calling the Lambda function", API
  Gateway's CreateAuthorizer `identitySource`); the stage's gateway response turns that into the
  403 a bad key always had (infra/gateway_errors.py).
- Result cache: the function's answer (policy, principal, context, usage identifier key) is kept
  per identity-source value for `cache_seconds` (0: no cache) on an injected clock, and its policy
  is evaluated again for each method called, as API Gateway reuses a cached policy for every
  method of the authorizer. A function that fails or answers without principal or policy is
  API Gateway's 500 (AUTHORIZER_FAILURE / AUTHORIZER_CONFIGURATION_ERROR), never cached.
- Policy: an explicit Deny on the method's ARN wins, then an Allow; anything else is denied
  (ACCESS_DENIED, 403), as IAM evaluates it; `*` and `?` in a Resource are IAM's wildcards.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tollgate import contract

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # the local deployment's AWS account, as in the functions' proxy events
REGION = "us-east-1"
EXPLICIT_DENY_MESSAGE = "User is not authorized to access this resource with an explicit deny"


class Invocable(Protocol):
    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Authorized:
    """What the stage knows after an allow: $context.authorizer.principalId and .<context key>, and
    the usage identifier key (the API key the usage plan throttles and counts), if any."""

    principal_id: str
    context: dict[str, str]
    usage_identifier_key: str | None


@dataclass(frozen=True)
class Refused:
    """An answer the stage gives itself: a gateway response type with API Gateway's own status and
    message (the stage's gateway responses may change the status and body: infra/gateway_errors.py)."""

    status: int
    error_type: str
    message: str
    principal_id: str | None = None
    context: dict[str, str] | None = None


def method_arn(rest_api_id: str, stage: str, method: str, path: str) -> str:
    """The ARN API Gateway gives the authorizer as `methodArn` for `method path` on the stage."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{rest_api_id}/{stage}/{method}/{path.lstrip('/')}"


class LocalAuthorizer:
    """`authorize(event)` for the REQUEST event of a metered call: Authorized or Refused."""

    def __init__(
        self,
        function: Invocable,
        cache_seconds: int,
        clock: Callable[[], float] = time.monotonic,
        identity_header: str = contract.API_KEY_HEADER,
    ) -> None:
        self._function = function
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._identity_header = identity_header.lower()
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}  # identity value -> (expires at, answer)
        self._lock = threading.Lock()

    def authorize(self, event: dict[str, Any]) -> Authorized | Refused:
        identity = next(
            (value for name, value in (event.get("headers") or {}).items() if name.lower() == self._identity_header),
            None,
        )
        if not identity:
            return Refused(401, "UNAUTHORIZED", "Unauthorized")
        answer = self._cached(identity)
        if answer is None:
            try:
                answer = self._function.invoke(event)
            except Exception:
                log.exception("the authorizer failed")
                return Refused(500, "AUTHORIZER_FAILURE", "Internal server error")
            if not _well_formed(answer):
                log.error("the authorizer answered without principalId or policyDocument: %r", answer)
                return Refused(500, "AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
            if self._cache_seconds > 0:
                with self._lock:
                    self._cache[identity] = (self._clock() + self._cache_seconds, answer)
        context = {name: str(value) for name, value in (answer.get("context") or {}).items()}
        if _effect(answer["policyDocument"], event["methodArn"]) != "Allow":
            return Refused(403, "ACCESS_DENIED", EXPLICIT_DENY_MESSAGE, answer["principalId"], context)
        return Authorized(answer["principalId"], context, answer.get("usageIdentifierKey"))

    def flush(self) -> None:
        """FlushStageAuthorizersCache: every cached answer of the stage is gone."""
        with self._lock:
            self._cache.clear()

    def _cached(self, identity: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cache.get(identity)
            if entry is None or entry[0] <= self._clock():
                self._cache.pop(identity, None)
                return None
            return entry[1]


def _well_formed(answer: Any) -> bool:
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("principalId"), str)
        and isinstance(answer.get("policyDocument"), dict)
    )


def _effect(policy: dict[str, Any], arn: str) -> str | None:
    """'Deny' if a statement denies invoking `arn`, else 'Allow' if one allows it, else None."""
    statements = policy.get("Statement") or []
    effects = {
        statement.get("Effect")
        for statement in (statements if isinstance(statements, list) else [statements])
        if _listed(statement.get("Action"), "execute-api:Invoke") and _listed(statement.get("Resource"), arn)
    }
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else None


def _listed(patterns: Any, value: str) -> bool:
    """`value` matches one of `patterns` (a string or a list) with IAM's `*` and `?` wildcards."""
    for pattern in patterns if isinstance(patterns, list) else [patterns]:
        if isinstance(pattern, str) and re.fullmatch(
            re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), value, re.DOTALL
        ):
            return True
    return False
