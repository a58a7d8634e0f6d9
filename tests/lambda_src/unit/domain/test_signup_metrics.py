"""Issue 14: RegistrationService counts every sign-up where it ends (FakeMetrics records what a
point counted): started, then confirmed or failed by reason, and a rollback that left something."""

from __future__ import annotations

import pytest

from testkit.fake_ports import TEST_PLANS, FakePorts
from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered
from tollgate.domain.models import Registrant
from tollgate.domain.registration import RegistrationService
from tollgate.domain.usage_keys import UsageKeys

ANN = Registrant(email="ann@example.com", first_name="Ann", last_name="Lee")
NOW = 1_800_000_000
FAILED = contract.METRIC_SIGNUPS_FAILED


def service(ports: FakePorts) -> RegistrationService:
    return RegistrationService(
        ports.api_keys,
        ports.billing,
        ports.analytics,
        ports.accounts,
        metrics=ports.metrics,
        plans=TEST_PLANS,
        key_items=ports.key_items,
        clock=lambda: NOW,
        usage_keys=UsageKeys(ports.api_keys, ports.key_pools),
    )


def counted(ports: FakePorts) -> dict[str, float]:
    return {name: ports.metrics.total(name) for name in sorted(ports.metrics.names())}


def test_a_sign_up_that_succeeds_is_started_and_confirmed(ports):
    service(ports).register(ANN, "fp")

    assert counted(ports) == {contract.METRIC_SIGNUPS_CONFIRMED: 1, contract.METRIC_SIGNUPS_STARTED: 1}


def test_a_taken_email_is_a_failed_sign_up_for_that_reason(ports):
    service(ports).register(ANN, "fp-1")

    with pytest.raises(EmailAlreadyRegistered):
        service(ports).register(ANN, "fp-2")

    assert counted(ports) == {
        contract.METRIC_SIGNUPS_CONFIRMED: 1,
        contract.METRIC_SIGNUPS_STARTED: 2,
        FAILED["email_taken"]: 1,
    }


@pytest.mark.parametrize("retryable, reason", [(True, "unavailable"), (False, "refused")])
def test_a_failing_service_is_a_failed_sign_up_by_whether_retrying_helps(ports, retryable, reason):
    ports.billing.fail("subscribe", error=DownstreamError("stripe", "no", retryable=retryable))

    with pytest.raises(DownstreamError):
        service(ports).register(ANN, "fp")

    # everything was undone: no leftovers counted
    assert counted(ports) == {contract.METRIC_SIGNUPS_STARTED: 1, FAILED[reason]: 1}


def test_an_unexpected_error_is_counted_apart(ports):
    ports.analytics.fail("upsert_user", error=KeyError("bug"))

    with pytest.raises(KeyError):
        service(ports).register(ANN, "fp")

    assert counted(ports) == {contract.METRIC_SIGNUPS_STARTED: 1, FAILED["unexpected"]: 1}


def test_a_rollback_that_leaves_a_failed_row_counts_the_leftovers(ports):
    ports.api_keys.fail("attach_to_plan")
    ports.billing.fail("delete_customer")

    with pytest.raises(DownstreamError):
        service(ports).register(ANN, "fp")

    assert ports.accounts.rows[ANN.email].status is AccountStatus.FAILED
    assert counted(ports) == {
        contract.METRIC_SIGNUPS_STARTED: 1,
        FAILED["unavailable"]: 1,
        contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS: 1,
    }


def test_a_key_left_behind_by_a_taken_email_counts_as_leftovers(ports):
    ports.accounts.rows[ANN.email] = Account(email=ANN.email, status=AccountStatus.ACTIVE)
    ports.api_keys.fail("delete_key")  # the key made alongside the reservation cannot be undone

    with pytest.raises(EmailAlreadyRegistered):
        service(ports).register(ANN, "fp")

    assert len(ports.api_keys.keys) == 1  # an orphaned key: make failed-accounts finds it
    assert ports.metrics.total(contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS) == 1


def test_a_takeover_that_cannot_undo_an_abandoned_sign_up_counts_the_leftovers(ports):
    abandoned = Account(
        email=ANN.email,
        status=AccountStatus.PENDING,
        api_key_id="key-old",
        lease_expires_at=NOW - 1,
        attempt_id="crashed",
    )
    ports.accounts.rows[ANN.email] = abandoned
    ports.api_keys.keys["key-old"] = {"name": "tollgate-old", "value": "v", "enabled": True, "created_at": 0}
    ports.api_keys.fail("delete_key", times=None)

    with pytest.raises(DownstreamError):
        service(ports).register(ANN, "fp")

    assert ports.accounts.rows[ANN.email].status is AccountStatus.FAILED
    # the abandoned row, now `failed`, and this attempt's own key, which no delete can remove either
    assert ports.metrics.total(contract.METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS) == 2
    assert ports.metrics.total(FAILED["unavailable"]) == 1
