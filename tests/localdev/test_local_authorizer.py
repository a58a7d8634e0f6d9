"""The local gateway's authorizer step (localdev.authorizer) as API Gateway runs a REQUEST authorizer:
identity source, result cache with its TTL on the clock, policy evaluation, failures."""

from __future__ import annotations

from typing import Any

import pytest

from localdev.authorizer import Authorized, LocalAuthorizer, Refused, method_arn

ARN = method_arn("api1", "prod", "GET", "/v1/things")
STAGE = "arn:aws:execute-api:us-east-1:123456789012:api1/prod"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedFunction:
    """An authorizer function answering `answer(event)`, counting invocations."""

    def __init__(self, effect: str = "Allow", resource: Any = f"{STAGE}/*", **extra: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.effect, self.resource, self.extra = effect, resource, extra

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {
            "principalId": "acct_1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": self.effect, "Resource": self.resource}],
            },
            "context": {"accountId": "acct_1", "keyHint": "wxyz"},
            **self.extra,
        }


def event(key: str | None = "tgk_key", arn: str = ARN) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": arn, "headers": {"X-API-Key": key} if key is not None else {}}


def refused(outcome: Authorized | Refused) -> Refused:
    """The outcome, which the test expects to be a refusal."""
    assert isinstance(outcome, Refused), outcome
    return outcome


def test_a_request_without_the_identity_header_is_refused_401_without_calling_the_function() -> None:
    function = ScriptedFunction()
    authorizer = LocalAuthorizer(function, cache_seconds=300)
    assert authorizer.authorize(event(None)) == Refused(401, "UNAUTHORIZED", "Unauthorized")
    assert authorizer.authorize(event("")) == Refused(401, "UNAUTHORIZED", "Unauthorized")
    assert function.events == []


def test_an_allow_gives_the_principal_context_and_usage_identifier_key() -> None:
    authorizer = LocalAuthorizer(ScriptedFunction(usageIdentifierKey="usage-key-value"), cache_seconds=300)
    assert authorizer.authorize(event()) == Authorized(
        "acct_1", {"accountId": "acct_1", "keyHint": "wxyz"}, "usage-key-value"
    )


def test_answers_are_cached_per_identity_value_for_the_ttl_on_the_clock() -> None:
    function, clock = ScriptedFunction(), Clock()
    authorizer = LocalAuthorizer(function, cache_seconds=300, clock=clock)
    for _ in range(3):
        authorizer.authorize(event("key-a"))
    authorizer.authorize(event("key-b"))
    assert len(function.events) == 2
    clock.now += 299.9
    authorizer.authorize(event("key-a"))
    assert len(function.events) == 2
    clock.now += 0.1
    authorizer.authorize(event("key-a"))
    assert len(function.events) == 3


def test_a_cached_deny_stays_a_deny_until_it_expires_and_a_zero_ttl_caches_nothing() -> None:
    function, clock = ScriptedFunction(effect="Deny"), Clock()
    authorizer = LocalAuthorizer(function, cache_seconds=60, clock=clock)
    assert refused(authorizer.authorize(event())).error_type == "ACCESS_DENIED"
    function.effect = "Allow"
    assert refused(authorizer.authorize(event())).error_type == "ACCESS_DENIED"
    clock.now += 60
    assert isinstance(authorizer.authorize(event()), Authorized)
    uncached = LocalAuthorizer(function, cache_seconds=0, clock=clock)
    uncached.authorize(event()), uncached.authorize(event())
    assert len(function.events) == 4


def test_flushing_the_stage_cache_asks_the_function_again() -> None:
    function = ScriptedFunction()
    authorizer = LocalAuthorizer(function, cache_seconds=300)
    authorizer.authorize(event())
    authorizer.flush()
    authorizer.authorize(event())
    assert len(function.events) == 2


def test_a_cached_policy_is_evaluated_again_for_each_method() -> None:
    """API Gateway reuses one cached answer for every method: a policy naming one method denies the rest."""
    authorizer = LocalAuthorizer(ScriptedFunction(resource=ARN), cache_seconds=300)
    assert isinstance(authorizer.authorize(event()), Authorized)
    other = method_arn("api1", "prod", "POST", "/v1/orders")
    assert refused(authorizer.authorize(event(arn=other))).error_type == "ACCESS_DENIED"


@pytest.mark.parametrize(
    "resource, allowed",
    [
        (f"{STAGE}/*", True),
        (f"{STAGE}/GET/*", True),
        ([f"{STAGE}/POST/*", ARN], True),
        (f"{STAGE}/GET/v1/thing?", True),
        (f"{STAGE}/POST/*", False),
        ("arn:aws:execute-api:*:*:other/*", False),
    ],
)
def test_resources_match_with_iams_wildcards(resource: Any, allowed: bool) -> None:
    outcome = LocalAuthorizer(ScriptedFunction(resource=resource), cache_seconds=0).authorize(event())
    assert isinstance(outcome, Authorized) is allowed


def test_an_explicit_deny_wins_over_an_allow() -> None:
    function = ScriptedFunction()
    function.invoke = lambda event: {  # type: ignore[method-assign]
        "principalId": "p",
        "policyDocument": {
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN},
            ]
        },
    }
    assert refused(LocalAuthorizer(function, cache_seconds=0).authorize(event())).error_type == "ACCESS_DENIED"


def test_a_failing_or_malformed_authorizer_is_a_500_and_is_not_cached() -> None:
    class Failing(ScriptedFunction):
        def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
            self.events.append(event)
            raise RuntimeError("table unavailable")

    failing = Failing()
    authorizer = LocalAuthorizer(failing, cache_seconds=300)
    assert authorizer.authorize(event()) == Refused(500, "AUTHORIZER_FAILURE", "Internal server error")
    authorizer.authorize(event())
    assert len(failing.events) == 2
    malformed = ScriptedFunction()
    malformed.invoke = lambda event: {"policyDocument": {}}  # type: ignore[method-assign]
    assert (
        refused(LocalAuthorizer(malformed, cache_seconds=300).authorize(event())).error_type
        == "AUTHORIZER_CONFIGURATION_ERROR"
    )
