"""The ApiKeys port (tollgate.domain.ports.keys): FakeApiKeys and ApiGatewayKeys on moto (its gaps filled
by localdev/moto_gaps.py) answer alike. Today's semantics: issue 20 replaces these keys with keys
Tollgate issues, and this module with the new port's.

What sign-up, key rotation, cut-off and clean-up rely on: a new key can call nothing until it is in a
usage plan; attaching, detaching, deleting and disabling can each be repeated (whoever comes next
finishes the job), but a key that is gone cannot be attached nor enabled again (KeyNotFound); and the
listing by name prefix never carries a key's value."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from testkit.fake_ports import FakeApiKeys
from testkit.lambda_events import KEY_OWNER
from tollgate.domain.errors import KeyNotFound
from tollgate.domain.ports.keys import ApiKeys


@dataclass
class Gateway:
    """The port, two of its usage plans, and what API Gateway holds of a key."""

    port: ApiKeys
    plan: str
    other_plan: str
    in_plan: Callable[[str, str], bool]
    enabled: Callable[[str], bool]


@pytest.fixture(scope="module", params=["fake", "apigateway"])
def gateway(request) -> Iterator[Gateway]:
    if request.param == "fake":
        fake = FakeApiKeys()
        yield Gateway(
            fake,
            "usage-plan-standard",
            "usage-plan-free",
            lambda key_id, plan: fake.plan.get(key_id) == plan,
            lambda key_id: fake.keys[key_id]["enabled"],
        )
        return
    from tollgate.adapters.api_gateway_keys import ApiGatewayKeys

    aws, client = request.getfixturevalue("aws"), request.getfixturevalue("aws_clients").client("apigateway")

    def in_plan(key_id: str, plan: str) -> bool:
        return key_id in {key["id"] for key in client.get_usage_plan_keys(usagePlanId=plan, limit=500)["items"]}

    yield Gateway(
        ApiGatewayKeys(client, KEY_OWNER),
        aws.usage_plan_id,
        aws.usage_plan_ids["free"],
        in_plan,
        lambda key_id: client.get_api_key(apiKey=key_id)["enabled"],
    )


def name() -> str:
    return f"tollgate-contract-{uuid.uuid4().hex[:10]}"


def test_a_new_key_is_enabled_with_its_value_and_in_no_plan_until_attached(gateway):
    issued = gateway.port.create_key(name(), "a contract test's key")

    assert gateway.enabled(issued.id) and gateway.port.key_value(issued.id) == issued.value
    assert not gateway.in_plan(issued.id, gateway.plan)
    gateway.port.attach_to_plan(issued.id, gateway.plan)
    gateway.port.attach_to_plan(issued.id, gateway.plan)  # again: a retried attach that had gone through
    assert gateway.in_plan(issued.id, gateway.plan)


def test_detaching_takes_the_key_out_of_that_plan_only_and_can_be_repeated(gateway):
    issued = gateway.port.create_key(name(), "")
    gateway.port.attach_to_plan(issued.id, gateway.other_plan)

    gateway.port.detach_from_plan(issued.id, gateway.plan)  # a plan change takes it out of every other plan
    assert gateway.in_plan(issued.id, gateway.other_plan)
    gateway.port.detach_from_plan(issued.id, gateway.other_plan)
    gateway.port.detach_from_plan(issued.id, gateway.other_plan)

    assert not gateway.in_plan(issued.id, gateway.other_plan)


def test_a_deleted_key_leaves_its_plan_and_deleting_it_again_is_not_an_error(gateway):
    issued = gateway.port.create_key(name(), "")
    gateway.port.attach_to_plan(issued.id, gateway.plan)

    gateway.port.delete_key(issued.id)
    gateway.port.delete_key(issued.id)

    assert not gateway.in_plan(issued.id, gateway.plan)
    with pytest.raises(KeyNotFound) as refused:  # a key from before issue 20 that is gone: nothing to import
        gateway.port.key_value(issued.id)
    assert refused.value.retryable is False


def test_a_key_that_is_gone_can_be_disabled_but_neither_attached_nor_enabled(gateway):
    issued = gateway.port.create_key(name(), "")
    gateway.port.delete_key(issued.id)

    gateway.port.set_enabled(issued.id, False)  # it is ended already: the cut-off is finished
    with pytest.raises(KeyNotFound):
        gateway.port.set_enabled(issued.id, True)
    with pytest.raises(KeyNotFound):
        gateway.port.attach_to_plan(issued.id, gateway.plan)


def test_enabling_and_disabling_flip_the_key(gateway):
    issued = gateway.port.create_key(name(), "")

    gateway.port.set_enabled(issued.id, False)
    assert not gateway.enabled(issued.id)
    gateway.port.set_enabled(issued.id, True)
    assert gateway.enabled(issued.id)


def test_keys_are_listed_by_name_prefix_without_their_values(gateway):
    prefix = name() + "-"
    first, second = gateway.port.create_key(prefix + "a", ""), gateway.port.create_key(prefix + "b", "")
    gateway.port.create_key(name(), "")
    before = int(time.time())

    listed = {key.id: key for key in gateway.port.keys_named(prefix)}

    assert set(listed) == {first.id, second.id} and listed[first.id].name == prefix + "a"
    assert abs(listed[first.id].created_at - before) <= 5
    assert first.value not in repr(listed) and second.value not in repr(listed)


def test_the_region_count_follows_every_key_created_and_deleted(gateway):
    before = gateway.port.count_in_region()

    issued = gateway.port.create_key(name(), "")
    assert gateway.port.count_in_region() == before + 1
    gateway.port.delete_key(issued.id)

    assert gateway.port.count_in_region() == before
