"""Shared fixtures: the offline emulators (moto, localstripe behind the Stripe bridge, Moesif collector).

The emulators start once per test session, on free loopback ports, the first time a test asks for
one of them (tests that need none pay nothing), and stop at the end of the session.

- `emulators`        localdev.emulators.Emulators (all four; `.env()` for the functions)
- `moto_server`      MotoServer (`.endpoint_url`, `.reset()`)
- `stripe_bridge`    StripeBridge (`.api_base`, `.state`, `.send_event()`)
- `stripe_api`       the bridge's api_base: what TOLLGATE_STRIPE_API_BASE is set to
- `stripe_client`    stripe.StripeClient on the bridge (localdev.emulators.STRIPE_TEST_SECRET_KEY)
- `price_id`         the metered price, made the way `make stripe-setup` makes it (session)
- `aws`              the stack's AWS resources in moto, in-process (testkit.moto_stack; per module)
- `moesif_collector` MoesifCollector (`.base_url`, `.firehose_url`, `.users()`, `.events()`, ...)
- `clean_moesif`     the collector, emptied before the test
- `emulator_env`     os.environ set to `emulators.env()` for one test (monkeypatch)
- `dev_stack`        `make dev` as a child process (DevStackProcess, `.urls`), shared by the session:
                     tests that change nothing but their own customers (unique emails) use it; its
                     authorizer answers are not cached (testkit.dev_stack.UNCACHED_AUTHORIZER)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import stripe

    from localdev.dev_stack_process import DevStackProcess
    from localdev.emulators import Emulators, MoesifCollector, MotoServer, StripeBridge
    from testkit.moto_stack import MotoStack


# Same quiet tooling as the Makefile, also when pytest is run directly: no jsii Node-20 banner
# (set before any test module imports aws_cdk and starts the jsii runtime), no CDK telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "1")


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    from localdev.emulators import Emulators

    with Emulators() as running:
        yield running


@pytest.fixture(scope="session")
def dev_stack() -> Iterator[DevStackProcess]:
    from localdev.dev_stack_process import DevStackProcess
    from testkit.dev_stack import UNCACHED_AUTHORIZER

    with DevStackProcess(context=UNCACHED_AUTHORIZER) as stack:
        yield stack


@pytest.fixture(scope="session")
def moto_server(emulators: Emulators) -> MotoServer:
    return emulators.moto


@pytest.fixture(scope="session")
def stripe_bridge(emulators: Emulators) -> StripeBridge:
    assert emulators.stripe is not None
    return emulators.stripe


@pytest.fixture(scope="session")
def stripe_api(stripe_bridge: StripeBridge) -> str:
    return stripe_bridge.api_base


@pytest.fixture
def stripe_client(stripe_api: str) -> stripe.StripeClient:
    import stripe

    from localdev.emulators import STRIPE_TEST_SECRET_KEY

    return stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": stripe_api})


@pytest.fixture(scope="session")
def price_id(stripe_api: str) -> str:
    from localdev.bootstrap import DEV_CATALOG
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from ops.catalog_setup import CatalogSetup
    from tollgate.adapters.stripe_client import stripe_client

    return CatalogSetup(stripe_client(STRIPE_TEST_SECRET_KEY, api_base=stripe_api)).ensure(DEV_CATALOG).price_id


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoStack]:
    """An empty moto account with the stack's usage plan, tables and secrets; each module gets its
    own, so these tests never collide with the dev stack's moto server."""
    from testkit.moto_stack import moto_stack

    with moto_stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def moesif_collector(emulators: Emulators) -> MoesifCollector:
    return emulators.moesif


@pytest.fixture
def clean_moesif(moesif_collector: MoesifCollector) -> MoesifCollector:
    moesif_collector.reset()
    return moesif_collector


@pytest.fixture
def emulator_env(emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = emulators.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
