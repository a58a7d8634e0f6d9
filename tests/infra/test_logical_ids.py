"""A deployed stack updates in place: the synthesized template keeps every resource's logical id
and type (tests/infra/fixtures/logical_ids_*.json, recorded from the default and the custom
configuration of conftest.py).

CloudFormation replaces a resource whose logical id changes (it creates the new one, then deletes
the old): a table, bucket or secret would start empty and a fixed-name function or usage plan
would fail to create beside its old self. So moving a construct in infra/ must keep its logical id
(infra/legacy_ids.py). A new resource is recorded here on purpose, with the change that adds it.

The API's deployment is the one resource CDK renames by design: its id ends in a hash of the
API's methods, so that a changed API is deployed again; it is compared without that hash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
_DEPLOYMENT_HASH = re.compile(r"^(?P<id>.+Deployment[0-9A-F]{8})[0-9a-f]{32}$")


def logical_ids(template: dict) -> dict[str, str]:
    """logical id -> resource type, the API deployment's id without its content hash."""
    ids = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::ApiGateway::Deployment":
            logical_id = _DEPLOYMENT_HASH.sub(r"\g<id>*", logical_id)
        ids[logical_id] = resource["Type"]
    return ids


@pytest.mark.parametrize("configuration", ["synth", "synth_custom"])
def test_every_resource_keeps_its_logical_id_and_type(configuration, request):
    synthesized = logical_ids(request.getfixturevalue(configuration).json)
    recorded = json.loads((FIXTURES / f"logical_ids_{configuration}.json").read_text())
    gone = {logical_id: kind for logical_id, kind in recorded.items() if synthesized.get(logical_id) != kind}
    new = {logical_id: kind for logical_id, kind in synthesized.items() if recorded.get(logical_id) != kind}
    assert not gone, f"these resources would be replaced or deleted on update (renamed, moved or retyped): {gone}"
    assert not new, f"new resources: record them in tests/infra/fixtures/logical_ids_{configuration}.json: {new}"


def test_the_deployment_id_pattern_drops_only_the_content_hash():
    template = {
        "Resources": {
            "ApiRestApiDeploymentDC05A82Daae75488b2e77fa41c087d2912f4d30a": {"Type": "AWS::ApiGateway::Deployment"},
            "ApiRestApiDeploymentStageprodE828476C": {"Type": "AWS::ApiGateway::Stage"},
        }
    }
    assert logical_ids(template) == {
        "ApiRestApiDeploymentDC05A82D*": "AWS::ApiGateway::Deployment",
        "ApiRestApiDeploymentStageprodE828476C": "AWS::ApiGateway::Stage",
    }
