"""Capacity of the free plans' pools (docs/scaling.md#pooled-keys): 20,000 free sign-ups through the register
service leave API Gateway's keys as they were (the pool's `free_pool_size` keys, made once), every one of them
answered with a key of its plan's pool, and a sample of them calls through the local gateway, whose authorizer
(the real handler) names the account's shard key.

Bulk, to take seconds: the sign-ups run the service's own code (tollgate.domain.registration) with API Gateway
the session's emulator, through the real adapters (ApiGatewayKeys, and DynamoKeyPools for the pool) — the
resource this is about — while the accounts table, the keys table, Stripe and Moesif are the in-memory fakes
(tests/contract holds each to its real adapter). The sample's key items are then written to the gateway's keys
table by the DynamoDB adapter, as the sign-up's last stage writes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.plan_settings import runtime_catalog
from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import aws_client, provision_key_pools
from localdev.dev_tables import create_tables
from localdev.gateway import LocalGateway
from testkit.fake_ports import FakePorts
from testkit.inline_executor import INLINE
from testkit.lambda_events import KEY_OWNER
from testkit.local_gateway import EchoBackend, call
from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.dynamo_key_items import DynamoKeyItems
from tollgate.adapters.dynamo_key_pools import DynamoKeyPools
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.key_pools import KeyPool
from tollgate.domain.models import Registrant
from tollgate.domain.registration import RegistrationService
from tollgate.domain.usage_keys import UsageKeys
from tollgate.plans import Plan, PlanCatalog

FREE_SIGN_UPS = 20_000
CALLERS = 20  # the sample that calls through the gateway


@pytest.fixture(scope="module")
def pooled(apigateway: Any, deployed_api: tuple[str, dict[str, str]], emulators: Any) -> Iterator[DynamoKeyPools]:
    """The free plan's pool in this module's usage plans, made as `make dev` makes it at start (and the
    deployed housekeeping within its first run); its keys deleted afterwards (the emulator is the session's)."""
    dynamodb = aws_client("dynamodb", emulators)
    accounts_table, _ = create_tables(dynamodb, name=f"pools-{uuid.uuid4().hex[:8]}")
    provision_key_pools(apigateway, dynamodb, accounts_table, KEY_OWNER, catalog(deployed_api))
    pools = DynamoKeyPools(dynamodb, accounts_table)
    yield pools
    for plan in catalog(deployed_api):
        for key_id in (pools.get(plan.id) or KeyPool(plan.id, {})).key_ids:
            apigateway.delete_api_key(apiKey=key_id)


def catalog(deployed_api: tuple[str, dict[str, str]]) -> PlanCatalog:
    settings = Settings.from_context(load_cdk_json_context())
    return runtime_catalog(settings.plans, deployed_api[1], settings.free_pool_size)


def gateway_key_ids(apigateway: Any) -> set[str]:
    """Every API Gateway key of the region: what counts against its 10,000."""
    pages = apigateway.get_paginator("get_api_keys").paginate()
    return {key["id"] for page in pages for key in page.get("items", [])}


def test_20000_free_sign_ups_make_no_gateway_key_share_the_pool_and_a_sample_calls_with_its_shard_key(
    apigateway: Any,
    deployed_api: tuple[str, dict[str, str]],
    pooled: DynamoKeyPools,
    emulators: Any,
    keys_table: str,
    gateway: LocalGateway,
    backend: EchoBackend,
) -> None:
    plans = catalog(deployed_api)
    free: Plan = next(plan for plan in plans if plan.pooled)
    pool = pooled.get(free.id)
    assert pool is not None and len(pool.shards) == free.pool_size > 0
    keys_before = gateway_key_ids(apigateway)
    api_keys, ports = ApiGatewayKeys(apigateway, KEY_OWNER), FakePorts.create()
    service = RegistrationService(
        api_keys,
        ports.billing,
        ports.analytics,
        ports.accounts,
        metrics=ports.metrics,
        plans=plans,
        key_items=ports.key_items,
        usage_keys=UsageKeys(api_keys, pooled),
        executor=INLINE,
    )

    registrations = [
        service.register(Registrant(f"free-{n}@example.com", "Free", "Tester", free.id), f"capacity-{n}")
        for n in range(FREE_SIGN_UPS)
    ]

    assert gateway_key_ids(apigateway) == keys_before  # no key made: the region's count is the pools'
    used = {item.usage_key for item in ports.key_items.items.values()}
    assert used == {key.value for key in pool.shards.values()}  # every account on a shard; every shard used

    stored = DynamoKeyItems(aws_client("dynamodb", emulators), keys_table)
    for registration in registrations[:: FREE_SIGN_UPS // CALLERS]:
        stored.put(ports.key_items.items[key_hash(registration.key.value)])
        status, _, _ = call(f"{gateway.url}/v1/forecast", headers={"x-api-key": registration.key.value})
        assert status == 200
        received = {name.lower(): value for name, value in backend.received[-1]["headers"].items()}
        assert received[contract.BACKEND_ACCOUNT_ID_HEADER] == registration.account_id
        shard_key = pool.key_for(registration.account_id, free.pool_size)
        assert shard_key is not None and received[contract.BACKEND_API_KEY_ID_HEADER] == shard_key.id
