"""infra/legacy_ids.py computes CDK's own logical ids, and pins the moved constructs' resources to them."""

from __future__ import annotations

import pytest
from aws_cdk import CfnElement, Stack
from aws_cdk import aws_apigateway as apigw

from infra.legacy_ids import MOVED, is_moved, legacy_path, logical_id, make_unique_id


def _elements(stack: Stack) -> list[CfnElement]:
    return [node for node in stack.node.find_all() if isinstance(node, CfnElement) and Stack.of(node) is stack]


@pytest.mark.parametrize("configuration", ["synth", "synth_custom"])
def test_every_resource_has_the_id_this_module_computes(configuration, request):
    stack = request.getfixturevalue(configuration).stack
    elements = _elements(stack)
    assert len(elements) > 150
    # The API's deployment appends a hash of the API's methods to its own id (tests/infra/test_logical_ids.py).
    ids = {
        element: stack.resolve(element.logical_id)
        for element in elements
        if not isinstance(element, apigw.CfnDeployment)
    }
    assert {logical_id(element) for element in ids} == set(ids.values())


def test_every_moved_construct_exists_in_the_default_stack(synth):
    moved = {"/".join(node.node.path.split("/")[1:]) for node in synth.stack.node.find_all()} & set(MOVED)
    assert moved == set(MOVED)
    assert any(is_moved(element) for element in _elements(synth.stack))


def test_a_moved_path_keeps_what_follows_it():
    assert legacy_path(["SignUp", "Register", "Role", "Resource"]) == ["Functions", "Register", "Role", "Resource"]
    assert legacy_path(["SignUpX", "Register"]) == ["SignUpX", "Register"]


def test_ids_follow_cdks_rules():
    assert make_unique_id(["ApiUrl"]) == "ApiUrl"  # a top-level element keeps its name
    assert make_unique_id(["Data", "AccountsTable", "Resource"]).startswith("DataAccountsTable")
    assert make_unique_id(["Reconciler", "Reconciler", "Function", "Resource"]).startswith("ReconcilerFunction")
    assert make_unique_id(["Api", "RestApi", "Default", "register"]) == make_unique_id(["Api", "RestApi", "register"])
