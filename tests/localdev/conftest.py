"""The local gateway the tests of tests/localdev share (one per module): on the session's moto and Moesif
collector, with its authorizer (the real handler) reading a keys table of its own, its result cache on a
clock the tests move (testkit.clock.Clock), and an echoing backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.settings import Settings, load_cdk_json_context
from localdev.bootstrap import LimitReached, aws_client, create_api, create_limit_reached_key
from localdev.dev_tables import create_keys_table
from localdev.gateway import GatewayDeployment, LocalGateway
from testkit.clock import Clock
from testkit.key_items import put_key
from testkit.local_gateway import BACKEND_SECRET, CACHE_SECONDS, FIREHOSE_ACCESS_KEY, SITE_ORIGIN, EchoBackend
from tollgate import contract
from tollgate.domain import api_key_format


@pytest.fixture(scope="module")
def apigateway(moto_server: Any, emulators: Any) -> Any:
    return aws_client("apigateway", emulators)


@pytest.fixture(scope="module")
def deployed_api(apigateway: Any) -> tuple[str, dict[str, str]]:
    settings = Settings.from_context(load_cdk_json_context())
    return create_api(apigateway, settings)


@pytest.fixture(scope="module")
def limit_reached(apigateway: Any, deployed_api: tuple[str, dict[str, str]]) -> LimitReached:
    return create_limit_reached_key(apigateway, deployed_api[0], "prod")


@pytest.fixture(scope="module")
def backend() -> Iterator[EchoBackend]:
    with EchoBackend() as running:
        yield running


@pytest.fixture(scope="module")
def keys_table(emulators: Any) -> str:
    return create_keys_table(aws_client("dynamodb", emulators), name=f"gateway-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(start=0.0)


@pytest.fixture(scope="module")
def gateway(
    apigateway: Any,
    deployed_api: tuple[str, dict[str, str]],
    backend: EchoBackend,
    moesif_collector: Any,
    emulators: Any,
    keys_table: str,
    clock: Clock,
    limit_reached: LimitReached,
) -> Iterator[LocalGateway]:
    """The gateway, its authorizer (the real handler) reading `keys_table` in moto and told the "limit
    reached" key, as make dev's does."""
    rest_api_id, usage_plan_ids = deployed_api
    deployment = GatewayDeployment(
        rest_api_id=rest_api_id,
        stage_name="prod",
        usage_plan_ids=(*usage_plan_ids.values(), limit_reached.usage_plan_id),
        site_origin=SITE_ORIGIN,
        backend_url=backend.url,
        firehose_url=moesif_collector.firehose_url,
        firehose_access_key=FIREHOSE_ACCESS_KEY,
        backend_secret=BACKEND_SECRET,
        authorizer_cache_seconds=CACHE_SECONDS,
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            **emulators.env(),
            contract.ENV_KEYS_TABLE: keys_table,
            contract.ENV_LIMIT_REACHED_KEY: limit_reached.key_value,
        }.items():
            patch.setenv(name, value)
        with LocalGateway(deployment, apigateway, clock=clock) as running:
            yield running


@pytest.fixture
def plan_key(
    apigateway: Any, deployed_api: tuple[str, dict[str, str]], emulators: Any, keys_table: str
) -> dict[str, str]:
    """A customer's Tollgate key (`value`) whose account's usage key (`id`, `usage_key`: an enabled
    gateway key) is on the free usage plan, stored in the keys table as a sign-up stores it."""
    usage = apigateway.create_api_key(name=f"test-{uuid.uuid4().hex[:8]}", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=deployed_api[1]["free"], keyId=usage["id"], keyType="API_KEY")
    key, account_id = api_key_format.new_key("tgk", "test"), f"acct_{uuid.uuid4().hex[:20]}"
    put_key(aws_client("dynamodb", emulators), keys_table, key, usage["value"], account_id=account_id)
    return {"id": usage["id"], "value": key, "usage_key": usage["value"], "account_id": account_id}
