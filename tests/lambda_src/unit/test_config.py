"""RuntimeConfig from the environment the stack sets: every variable named when missing or wrong,
and a function deployed without one refuses its first invocation, naming it."""

from __future__ import annotations

import pytest

from testkit.account_settings import accounts_environment
from testkit.fake_ports import TEST_PLANS
from testkit.lambda_events import FUNCTION_ENVIRONMENT as ENVIRONMENT
from testkit.lambda_events import LambdaContext, api_gateway_event
from tollgate import contract, wiring
from tollgate.config import RuntimeConfig
from tollgate.domain.errors import ConfigurationError


def test_settings_are_read_from_the_contract_variables():
    config = RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_STRIPE_API_BASE: "http://127.0.0.1:1/"})

    assert config.stripe_api_base == "http://127.0.0.1:1" and config.moesif_api_base is None
    assert config.plans == TEST_PLANS and config.key_owner == ENVIRONMENT[contract.ENV_KEY_OWNER]


@pytest.mark.parametrize("missing", [name for name in ENVIRONMENT])
def test_a_missing_variable_is_named(missing):
    with pytest.raises(ConfigurationError, match=missing):
        RuntimeConfig.from_environ({name: value for name, value in ENVIRONMENT.items() if name != missing})


def test_a_bad_boolean_is_named():
    with pytest.raises(ConfigurationError, match=contract.ENV_VERIFY_EMAIL):
        RuntimeConfig.from_environ(accounts_environment(ENVIRONMENT) | {contract.ENV_VERIFY_EMAIL: "yes"})


@pytest.mark.parametrize("plans", ["not json", '[{"id": "x"}]', "[]"])
def test_a_plan_list_not_as_the_stack_writes_it_is_named(plans):
    with pytest.raises(ConfigurationError, match=contract.ENV_PLANS):
        RuntimeConfig.from_environ(ENVIRONMENT | {contract.ENV_PLANS: plans})


def test_the_register_function_refuses_to_start_without_its_settings(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(contract.ENV_PLANS)
    from tollgate.handlers import register

    with wiring.installed(None), pytest.raises(ConfigurationError, match=contract.ENV_PLANS):
        register.handler(api_gateway_event("{}"), LambdaContext())  # the first invocation of a cold start
