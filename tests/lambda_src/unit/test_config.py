"""RuntimeConfig from the environment the stack sets: every variable named when missing or wrong,
and a function deployed without one refuses its first invocation, naming it."""

from __future__ import annotations

import pytest

from testkit.lambda_events import FUNCTION_ENVIRONMENT as ENVIRONMENT
from testkit.lambda_events import LambdaContext, api_gateway_event
from tollgate import contract, wiring
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConfigurationError


def test_settings_are_read_from_the_contract_variables():
    config = RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_REQUIRE_PAYMENT_METHOD: "TRUE",
                                                       contract.ENV_STRIPE_API_BASE: "http://127.0.0.1:1/"})

    assert config.require_payment_method is True
    assert config.stripe_api_base == "http://127.0.0.1:1" and config.moesif_api_base is None
    assert config.usage_plan_id == "plan" and config.key_owner == ENVIRONMENT[contract.ENV_KEY_OWNER]


@pytest.mark.parametrize("missing", [name for name in ENVIRONMENT])
def test_a_missing_variable_is_named(missing):
    with pytest.raises(ConfigurationError, match=missing):
        RuntimeConfig.from_environ({name: value for name, value in ENVIRONMENT.items() if name != missing})


def test_a_bad_boolean_is_named():
    with pytest.raises(ConfigurationError, match=contract.ENV_REQUIRE_PAYMENT_METHOD):
        RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_REQUIRE_PAYMENT_METHOD: "yes"})


def test_the_register_function_refuses_to_start_without_its_settings(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(contract.ENV_USAGE_PLAN_ID)
    from tollgate.handlers import register

    with wiring.installed(None), pytest.raises(ConfigurationError, match=contract.ENV_USAGE_PLAN_ID):
        register.handler(api_gateway_event("{}"), LambdaContext())  # the first invocation of a cold start
