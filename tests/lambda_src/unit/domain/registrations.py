"""What the RegistrationService tests (test_registration_*.py) share: the service on FakePorts as
tollgate.wiring builds it (its own thread pool: the tests of overlap and races need real
concurrency, unlike testkit.world's inline one), and what they look for afterwards."""

from __future__ import annotations

from testkit.clock import START, Clock
from testkit.fake_ports import TEST_PLANS, FakePorts
from tollgate.domain.models import Registrant
from tollgate.domain.registration import RegistrationService
from tollgate.domain.usage_keys import UsageKeys

ANN = Registrant(email="ann@example.com", first_name="Ann", last_name="Lee")


def service_for(ports: FakePorts, clock: Clock | None = None, **options) -> RegistrationService:
    return RegistrationService(
        ports.api_keys,
        ports.billing,
        ports.analytics,
        ports.accounts,
        clock=clock or Clock(START),
        metrics=ports.metrics,
        key_items=ports.key_items,
        **{"plans": TEST_PLANS, "usage_keys": UsageKeys(ports.api_keys, ports.key_pools), **options},
    )


def usage_key_id(ports: FakePorts, email: str = ANN.email) -> str:
    """The account's API Gateway key (its usage key: never shown to the customer)."""
    return ports.accounts.rows[email].api_key_id


def assert_nothing_left(ports: FakePorts) -> None:
    assert ports.api_keys.keys == {}
    assert ports.api_keys.plan == {}
    assert ports.billing.customers == {}
    assert ports.billing.live_subscription_ids() == []
    assert ports.accounts.rows == {}
    assert ports.key_items.items == {}


def only_customer_key(ports: FakePorts) -> str:
    """The idempotency key of the one customer create the sign-up asked Stripe for (however often)."""
    (customer_key,) = {args[2] for method, args in ports.billing.calls if method == "create_customer"}
    return customer_key
