"""Contract tests: each module states one port's semantics (tollgate.domain.ports) once and runs it against
the in-memory fake the other tests use AND the real adapter on its emulator, so a fake can never
drift from what production does (a test passing on the fake proves something about the adapter).

Each module has one module-scoped fixture parametrized over the two sides ("fake" first, then the
emulator's name): the emulator side's adapter and client are made once per module, and the moto
account once for the whole package (about a second each time saved), so tests name what they create
uniquely (uuid) and assert on what they made, never on a table's or an account's whole content."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.moto_stack import MotoStack, moto_stack
from tollgate.adapters.aws_clients import AwsClients


@pytest.fixture(scope="package")
def aws() -> Iterator[MotoStack]:
    """The stack's AWS resources in moto (tests/conftest.py's `aws`), one account for every contract module."""
    with moto_stack() as stack:
        yield stack


@pytest.fixture(scope="package")
def aws_clients(aws) -> AwsClients:
    """One boto3 session for every contract module's adapters (a session costs about half a second to
    make), on the package's moto account (`aws`)."""
    return AwsClients()


@pytest.fixture(scope="package")
def second_price_id(stripe_api: str, price_id: str) -> str:
    """A second paid plan's metered price in the Stripe emulator, on a meter of its own, made as `make
    stripe-setup --plans` makes it (beside `price_id`, the first paid plan's)."""
    from dataclasses import replace
    from decimal import Decimal

    from localdev.bootstrap import DEV_CATALOG
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from ops.catalog_setup import CatalogSetup
    from tollgate.adapters.stripe_client import stripe_client

    second = replace(
        DEV_CATALOG,
        product_name="Tollgate API (contract, second plan)",
        meter_event_name="tollgate_contract_second_calls",
        lookup_key="tollgate_contract_second",
        unit_amount_decimal=Decimal("0.5"),
    )
    return CatalogSetup(stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api)).ensure_price(second).price_id
