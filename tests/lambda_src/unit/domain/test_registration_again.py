"""RegistrationService on fakes (issue 11): a canceled customer can sign up again with a new key and
subscription; one who still owes money cannot; a new sign-up that cannot delete the old key is undone."""

from __future__ import annotations

import pytest
from registrations import ANN, service_for, usage_key_id

from testkit.fake_ports import FakePorts
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered


def canceled_account(ports: FakePorts) -> Account:
    """What the billing lifecycle leaves after a cancellation: the key disabled, the row canceled."""
    first = service_for(ports).register(ANN, "fp-first")
    ports.billing.subscriptions[first.subscription_id]["status"] = "canceled"
    ports.api_keys.set_enabled(usage_key_id(ports), False)
    row = ports.accounts.rows[ANN.email]
    canceled = row.with_status(AccountStatus.CANCELED, row.updated_at + 1, "customer.subscription.deleted", "evt_1")
    ports.accounts.rows[ANN.email] = canceled
    return canceled


def test_a_canceled_customer_signs_up_again_with_a_new_key_and_subscription(ports):
    canceled = canceled_account(ports)

    again = service_for(ports).register(ANN, "fp-again")

    row = ports.accounts.rows[ANN.email]
    assert (
        row.status is AccountStatus.ACTIVE
        and row.current_key.id == again.key.id
        and row.api_key_id != canceled.api_key_id
    )
    assert (
        again.subscription_id != canceled.subscription_id
        and again.subscription_id in ports.billing.live_subscription_ids()
    )
    assert canceled.api_key_id not in ports.api_keys.keys  # the disabled key is deleted
    assert ports.can_call(again.key.value)
    assert row.history[: len(canceled.history)] == canceled.history  # the earlier life stays traceable
    assert canceled.api_key_id in row.history[len(canceled.history)].cause


def test_a_suspended_customer_who_owes_money_still_cannot_sign_up_again(ports):
    canceled = canceled_account(ports)
    ports.accounts.rows[ANN.email] = canceled.with_status(AccountStatus.SUSPENDED, canceled.updated_at + 1, "x")

    with pytest.raises(EmailAlreadyRegistered):
        service_for(ports).register(ANN, "fp-again")


def test_when_the_old_key_cannot_be_deleted_the_new_sign_up_is_undone_and_the_canceled_row_stays(ports):
    canceled = canceled_account(ports)
    keys_before = set(ports.api_keys.keys)
    ports.api_keys.fail("delete_key")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp-again")

    assert ports.accounts.rows[ANN.email] == canceled
    assert set(ports.api_keys.keys) == keys_before  # the new key was undone, the old one is still there
