"""RegistrationService on fakes: one account per email — an existing account, a live reservation,
a reservation whose lease ran out (taken over), a slow attempt that lost it, twenty simultaneous
sign-ups."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from registrations import ANN, service_for, usage_key_id

from testkit.fake_ports import TEST_PLANS, FakePorts
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered, RegistrationInProgress
from tollgate.domain.models import Registrant


def test_an_existing_account_answers_already_registered_and_creates_nothing(ports):
    service = service_for(ports)
    first = service.register(ANN, "fp-1")

    with pytest.raises(EmailAlreadyRegistered):
        service.register(Registrant(ANN.email, "Someone", "Else"), "fp-2")

    assert list(ports.api_keys.keys) == [usage_key_id(ports)]  # the speculative key was deleted
    assert list(ports.billing.customers) == [first.customer_id]
    assert ports.accounts.rows[ANN.email].attempt_id is not None
    assert ports.billing.call_count("create_customer") == 1


def test_a_live_reservation_blocks_other_sign_ups_and_reports_a_duplicate_request(ports, clock):
    ports.accounts.rows[ANN.email] = Account(
        email=ANN.email,
        status=AccountStatus.PENDING,
        lease_expires_at=int(clock.now) + 60,
        attempt_id="other",
        request_fingerprint="fp-1",
    )
    service = service_for(ports, clock)

    with pytest.raises(RegistrationInProgress):
        service.register(ANN, "fp-1")
    with pytest.raises(EmailAlreadyRegistered):
        service.register(ANN, "fp-2")

    assert ports.api_keys.keys == {} and ports.billing.customers == {}


def test_an_expired_reservation_is_taken_over_after_undoing_what_it_recorded(ports, clock):
    crashed_key = ports.api_keys.create_key("crashed", "")
    ports.api_keys.attach_to_plan(crashed_key.id, TEST_PLANS.default.usage_plan_id)
    crashed_customer = ports.billing.create_customer(ANN, crashed_key.id, "crashed-customer")
    crashed_subscription = ports.billing.subscribe(crashed_customer, "price_1", "crashed-subscription")
    ports.accounts.rows[ANN.email] = Account(
        email=ANN.email,
        status=AccountStatus.PENDING,
        lease_expires_at=int(clock.now) - 1,
        attempt_id="crashed",
        api_key_id=crashed_key.id,
        customer_id=crashed_customer,
        subscription_id=crashed_subscription,
    )

    registration = service_for(ports, clock).register(ANN, "fp")

    assert list(ports.api_keys.keys) == [usage_key_id(ports)]
    assert set(ports.api_keys.plan) == {usage_key_id(ports)}
    assert list(ports.billing.customers) == [registration.customer_id]
    assert ports.billing.live_subscription_ids() == [registration.subscription_id]
    assert ports.accounts.rows[ANN.email].status is AccountStatus.ACTIVE


def test_a_takeover_that_cannot_undo_marks_the_crashed_row_failed_and_a_later_retry_heals_it(ports, clock):
    crashed_key = ports.api_keys.create_key("crashed", "")
    ports.accounts.rows[ANN.email] = Account(
        email=ANN.email,
        status=AccountStatus.PENDING,
        lease_expires_at=int(clock.now) - 1,
        attempt_id="crashed",
        api_key_id=crashed_key.id,
    )
    ports.api_keys.fail("delete_key")  # the crashed key's delete fails once
    service = service_for(ports, clock)

    with pytest.raises(DownstreamError):
        service.register(ANN, "fp")

    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.FAILED and row.api_key_id == crashed_key.id
    assert "delete API key" in row.failure_reason

    service.register(ANN, "fp")
    assert list(ports.api_keys.keys) == [usage_key_id(ports)]


def test_a_slow_attempt_that_lost_its_reservation_undoes_its_own_work_and_leaves_the_row(ports, clock):
    service = service_for(ports, clock, lease_seconds=10)
    newer = Account(
        email=ANN.email, status=AccountStatus.PENDING, attempt_id="newer", lease_expires_at=int(clock.now) + 100
    )
    original_subscribe = ports.billing.subscribe

    def subscribe_while_another_attempt_takes_over(customer_id, price_id, idempotency_key):
        ports.accounts.rows[ANN.email] = newer
        return original_subscribe(customer_id, price_id, idempotency_key)

    ports.billing.subscribe = subscribe_while_another_attempt_takes_over

    with pytest.raises(DownstreamError, match="lost its reservation"):
        service.register(ANN, "fp")

    assert ports.accounts.rows[ANN.email] is newer
    assert ports.api_keys.keys == {} and ports.billing.customers == {}
    assert ports.billing.live_subscription_ids() == []


def test_twenty_simultaneous_sign_ups_of_one_email_make_exactly_one_account():
    ports = FakePorts.create(latency=0.005)
    service = service_for(ports)
    start = threading.Barrier(20)

    def sign_up(n: int):
        start.wait()
        try:
            return service.register(ANN, f"fp-{n}")
        except EmailAlreadyRegistered as refused:
            return refused

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(sign_up, range(20)))

    winners = [o for o in outcomes if not isinstance(o, EmailAlreadyRegistered)]
    assert len(winners) == 1
    assert list(ports.api_keys.keys) == [usage_key_id(ports)]
    assert list(ports.billing.customers) == [winners[0].customer_id]
