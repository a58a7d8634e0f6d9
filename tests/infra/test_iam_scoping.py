"""Issue 18 (IAM): every API Gateway permission of every role in the template is scoped to this
deployment: its usage plans, or keys carrying its owner tag (or a create requesting exactly that tag),
never `*`; the only grants without the owner-tag condition are api_key_access.UNCONDITIONED_GRANTS,
each with the AWS documentation that says why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_synth import resolve_join

from infra.api_key_access import SERVICE_AUTHORIZATION_REFERENCE, UNCONDITIONED_GRANTS
from tollgate import contract

ARN_PREFIX = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"
# The resource paths a grant may name: a key, the keys collection, a key's tags, or one of this
# deployment's usage plans (`{plan}`) and what is under it.
KEY_PATHS = ("/apikeys", "/apikeys/*", "/tags/arn%3A<AWS::Partition>%3Aapigateway%3A<AWS::Region>%3A%3A%2Fapikeys%2F*")
PLAN_PATH = re.compile(r"^/usageplans/\{plan\}(/keys(/\*(/usage)?)?|/usage)?$")


def every_statement(synth) -> list[tuple[str, dict[str, Any]]]:
    """(where, statement) for every IAM statement in the template: policies, managed policies and roles' inline ones."""
    found = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, resource in synth.resources(kind).items():
            found += [(logical_id, statement) for statement in resource["Properties"]["PolicyDocument"]["Statement"]]
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(logical_id, statement) for statement in policy["PolicyDocument"]["Statement"]]
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def apigateway_statements(synth) -> list[tuple[str, dict[str, Any]]]:
    return [
        (where, statement)
        for where, statement in every_statement(synth)
        if any(action == "*" or action.startswith("apigateway:") for action in as_list(statement["Action"]))
    ]


def resource_paths(synth, statement: dict[str, Any]) -> list[str]:
    """Each resource as a path after the API Gateway ARN prefix, this deployment's usage plan ids as `{plan}`
    (a resource elsewhere keeps its whole ARN, so no allowed path matches it)."""
    plans = {f"<{logical_id}>" for logical_id in synth.resources("AWS::ApiGateway::UsagePlan")}
    paths = []
    for resource in as_list(statement["Resource"]):
        path = resolve_join(resource).removeprefix(ARN_PREFIX)
        for plan in plans:
            path = path.replace(f"/usageplans/{plan}", "/usageplans/{plan}")
        paths.append(path)
    return paths


def owner_tag_condition(statement: dict[str, Any], owner: str) -> bool:
    """The statement requires the owner tag on the resource, or (a create) exactly that tag in the request."""
    condition = statement.get("Condition", {})
    on_resource = condition == {"StringEquals": {f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}": owner}}
    in_request = condition == {
        "StringEquals": {f"aws:RequestTag/{contract.API_KEY_OWNER_TAG}": owner},
        "ForAllValues:StringEquals": {"aws:TagKeys": [contract.API_KEY_OWNER_TAG]},
    }
    return on_resource or in_request


def unscoped(synth, statement: dict[str, Any], owner: str) -> list[str]:
    """What makes an API Gateway statement reach beyond this deployment (empty: nothing)."""
    actions = as_list(statement["Action"])
    problems = [f"action {action}" for action in actions if action in ("*", "apigateway:*")]
    for path in resource_paths(synth, statement):
        if path not in KEY_PATHS and not PLAN_PATH.match(path):
            problems.append(f"resource {path}: not this deployment's keys or usage plans")
        elif not owner_tag_condition(statement, owner):
            problems += [
                f"{action} on {path} without the owner tag"
                for action in actions
                if (action, path) not in UNCONDITIONED_GRANTS
            ]
    return problems


def owner_of(synth) -> str:
    return f"{synth.stack.stack_name}/{synth.settings.stage_name}"


@pytest.fixture(params=["synth", "synth_custom"])
def synthesized(request):
    return request.getfixturevalue(request.param)


def test_no_api_gateway_grant_anywhere_is_unscoped(synthesized):
    statements = apigateway_statements(synthesized)

    assert len(statements) >= 10  # the functions do manage keys: the check has something to judge
    for where, statement in statements:
        assert statement["Effect"] == "Allow"
        assert not unscoped(synthesized, statement, owner_of(synthesized)), where


def test_every_unconditioned_grant_says_why_with_the_aws_reference():
    assert set(UNCONDITIONED_GRANTS) == {("apigateway:GET", "/apikeys"), ("apigateway:GET", "/usageplans/{plan}/usage")}
    for reason in UNCONDITIONED_GRANTS.values():
        assert SERVICE_AUTHORIZATION_REFERENCE in reason
    assert SERVICE_AUTHORIZATION_REFERENCE.startswith("https://docs.aws.amazon.com/service-authorization/")


def test_the_usage_plans_carry_the_owner_tag_their_membership_grants_require(synthesized):
    owner = owner_of(synthesized)
    for usage_plan in synthesized.resources("AWS::ApiGateway::UsagePlan").values():
        tags = {tag["Key"]: tag["Value"] for tag in usage_plan["Properties"]["Tags"]}
        assert tags[contract.API_KEY_OWNER_TAG] == owner
    membership = [
        statement
        for _, statement in apigateway_statements(synthesized)
        if set(as_list(statement["Action"])) & {"apigateway:POST", "apigateway:DELETE"}
        and any(path.startswith("/usageplans/") for path in resource_paths(synthesized, statement))
    ]
    assert membership and all(owner_tag_condition(statement, owner) for statement in membership)


def test_the_scoping_check_refuses_what_it_must(synth):
    """A wildcard, another API's usage plan, another region's keys, a key grant without the tag, and a tag
    condition naming another deployment are all refused."""
    owner = owner_of(synth)
    tagged = {"StringEquals": {f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}": owner}}
    refused = [
        {"Action": "apigateway:*", "Resource": f"{ARN_PREFIX}/apikeys/*", "Condition": tagged},
        {"Action": "apigateway:GET", "Resource": "*"},
        {"Action": "apigateway:POST", "Resource": f"{ARN_PREFIX}/usageplans/abc123/keys", "Condition": tagged},
        {"Action": "apigateway:GET", "Resource": "arn:aws:apigateway:us-west-2::/apikeys/*", "Condition": tagged},
        {"Action": "apigateway:DELETE", "Resource": f"{ARN_PREFIX}/apikeys/*"},
        {
            "Action": "apigateway:PATCH",
            "Resource": f"{ARN_PREFIX}/apikeys/*",
            "Condition": {"StringEquals": {f"aws:ResourceTag/{contract.API_KEY_OWNER_TAG}": "Other/prod"}},
        },
    ]
    for statement in refused:
        assert unscoped(synth, statement, owner), statement
