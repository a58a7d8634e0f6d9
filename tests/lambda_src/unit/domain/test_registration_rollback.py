"""RegistrationService on fakes: a failure at any step of a sign-up is undone, what cannot be
undone is recorded on a `failed` row with every id, and objects Stripe created without confirming
them are found and deleted."""

from __future__ import annotations

import pytest
from registrations import ANN, assert_nothing_left, only_customer_key, service_for, usage_key_id

from tollgate.domain.account import RESERVATION_LEASE_SECONDS, AccountStatus
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered
from tollgate.domain.registration import _Attempt

# Every external step of the flow, as (port, method, which call of that method).
STEPS = [
    ("accounts", "create", 1),  # reserve the email
    ("api_keys", "create_key", 1),
    ("accounts", "update", 1),  # record the key id
    ("billing", "create_customer", 1),
    ("accounts", "update", 2),  # record the customer id
    ("billing", "subscribe", 1),
    ("accounts", "update", 3),  # record the final state
    ("analytics", "upsert_company", 1),
    ("analytics", "upsert_user", 1),
    ("api_keys", "attach_to_plan", 1),
]


@pytest.mark.parametrize("port, method, on_call", STEPS, ids=[f"{m}#{n}" for _, m, n in STEPS])
def test_a_failure_at_any_step_leaves_nothing_behind(ports, port, method, on_call):
    getattr(ports, port).fail(method, on_call=on_call)

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert_nothing_left(ports)


@pytest.mark.parametrize("port, method, on_call", STEPS, ids=[f"{m}#{n}" for _, m, n in STEPS])
def test_after_a_rolled_back_failure_the_same_email_can_sign_up(ports, port, method, on_call):
    getattr(ports, port).fail(method, on_call=on_call)
    service = service_for(ports)
    with pytest.raises(DownstreamError):
        service.register(ANN, "fp")

    registration = service.register(ANN, "fp")

    assert ports.can_call(registration.key.value)
    assert list(ports.api_keys.keys) == [usage_key_id(ports)]


def test_a_non_retryable_failure_keeps_its_flag(ports):
    ports.billing.fail("create_customer", error=DownstreamError("stripe", "card declined", retryable=False))

    with pytest.raises(DownstreamError) as raised:
        service_for(ports).register(ANN, "fp")

    assert raised.value.retryable is False


@pytest.mark.parametrize(
    "failing_step, failing_undo, left_behind",
    [
        (("billing", "subscribe"), ("billing", "delete_customer"), {"customer"}),
        (("api_keys", "attach_to_plan"), ("api_keys", "delete_key"), {"key"}),
        (("api_keys", "attach_to_plan"), ("billing", "delete_customer"), {"customer"}),
        # the key was attached before Moesif failed: it must leave the plan even if it survives
        (("analytics", "upsert_user"), ("api_keys", "delete_key"), {"key"}),
    ],
)
def test_an_undo_that_fails_leaves_a_failed_row_with_every_id(ports, failing_step, failing_undo, left_behind):
    getattr(ports, failing_step[0]).fail(failing_step[1])
    getattr(ports, failing_undo[0]).fail(failing_undo[1])

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.FAILED
    assert row.api_key_id and row.customer_id
    assert failing_undo[1].replace("_", " ") in row.failure_reason.replace("_", " ")
    assert f"injected failure in {failing_step[1]}" in row.failure_reason
    # every other undo still ran: only what the failed undo covers is left
    assert ("key" in left_behind) == bool(ports.api_keys.keys)
    assert ("customer" in left_behind) == bool(ports.billing.customers)
    assert ("subscription" in left_behind) == bool(ports.billing.live_subscription_ids())
    assert ports.api_keys.plan == {}


def test_an_undo_failure_after_the_subscription_records_the_subscription_id(ports):
    ports.analytics.fail("upsert_company")
    ports.billing.fail("cancel_subscription")
    ports.billing.fail("delete_customer")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.FAILED
    assert row.subscription_id in ports.billing.live_subscription_ids()
    assert "cancel subscription" in row.failure_reason and "delete customer" in row.failure_reason


def test_a_failed_cancel_does_not_count_when_the_customer_is_deleted(ports):
    ports.analytics.fail("upsert_user")
    ports.billing.fail("cancel_subscription")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert_nothing_left(ports)  # Stripe cancels a deleted customer's subscriptions


def test_a_customer_stripe_created_but_never_confirmed_is_found_by_its_idempotency_key_and_deleted(ports):
    ports.billing.fail("create_customer", answer_lost=True)  # created, then the answer timed out

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert_nothing_left(ports)  # no orphaned customer, reservation released
    assert ports.billing.call_count("create_customer") == 2
    only_customer_key(ports)  # the create was repeated with the same key


def test_a_subscription_stripe_created_but_never_confirmed_ends_with_its_customer(ports):
    ports.billing.fail("subscribe", answer_lost=True)

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert len(ports.billing.subscriptions) == 1  # Stripe did create it...
    assert_nothing_left(ports)  # ...and deleting the customer cancelled it
    assert ports.billing.call_count("subscribe") == 1


def test_a_refused_customer_create_created_nothing_and_is_not_repeated(ports):
    ports.billing.fail("create_customer", error=DownstreamError("stripe", "invalid request", retryable=False))

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert ports.billing.call_count("create_customer") == 1
    assert_nothing_left(ports)


def test_when_finding_an_unconfirmed_customer_fails_the_row_names_the_create_and_a_later_clean_finishes(ports):
    ports.billing.fail("create_customer", times=2, answer_lost=True)  # the repeat times out too
    ports.billing.fail("find_customers_for_key")  # and the search by key id fails (or lags behind the create)
    service = service_for(ports)

    with pytest.raises(DownstreamError):
        service.register(ANN, "fp")

    row = ports.accounts.get(ANN.email)
    customer_key = only_customer_key(ports)
    assert row.status is AccountStatus.FAILED
    assert row.customer_id is None and row.customer_idempotency_key == customer_key
    assert f"customer whose create had an unknown outcome (idempotency key {customer_key})" in row.failure_reason
    assert len(ports.billing.customers) == 1 and ports.api_keys.keys == {}

    assert service.cleanup.undo(row).leftovers == ()  # what ops/failed_accounts.py --clean runs
    assert ports.billing.customers == {}


def test_a_customer_found_by_its_idempotency_key_whose_delete_fails_is_recorded_on_the_failed_row(ports):
    ports.billing.fail("create_customer", answer_lost=True)
    ports.billing.fail("delete_customer")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.FAILED
    assert [row.customer_id] == list(ports.billing.customers)
    assert "customer whose create had an unknown outcome" in row.failure_reason
    assert "injected failure in delete_customer" in row.failure_reason


def test_an_unconfirmed_subscription_whose_customer_survives_ends_when_a_later_clean_deletes_the_customer(ports):
    ports.billing.fail("subscribe", answer_lost=True)
    ports.billing.fail("delete_customer")
    service = service_for(ports)

    with pytest.raises(DownstreamError):
        service.register(ANN, "fp")

    row = ports.accounts.get(ANN.email)
    assert row.status is AccountStatus.FAILED and row.customer_id in ports.billing.customers
    assert "injected failure in subscribe" in row.failure_reason
    assert len(ports.billing.live_subscription_ids()) == 1

    assert service.cleanup.undo(row).leftovers == ()
    assert ports.billing.live_subscription_ids() == [] and ports.billing.customers == {}


def test_a_sign_up_that_died_after_an_unconfirmed_customer_create_is_cleaned_by_the_next_one(ports, clock, monkeypatch):
    """The customer create's idempotency key is written with the key id, before the customer
    exists: a function that dies mid-create leaves enough on its row to find the customer."""
    ports.billing.fail("create_customer", answer_lost=True)
    monkeypatch.setattr(_Attempt, "roll_back", lambda attempt, failure: None)  # the function dies
    service = service_for(ports, clock)
    with pytest.raises(DownstreamError):
        service.register(ANN, "fp-1")
    abandoned = ports.accounts.get(ANN.email)
    assert abandoned.status is AccountStatus.PENDING and abandoned.customer_id is None
    assert abandoned.customer_idempotency_key == only_customer_key(ports)
    monkeypatch.undo()
    clock.now += RESERVATION_LEASE_SECONDS + 1

    registration = service.register(ANN, "fp-2")

    assert list(ports.billing.customers) == [registration.customer_id]
    assert list(ports.api_keys.keys) == [usage_key_id(ports)]


def test_a_failed_detach_does_not_count_when_the_key_itself_is_deleted(ports):
    ports.analytics.fail("upsert_user")
    ports.api_keys.fail("detach_from_plan")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert_nothing_left(ports)  # deleting the key took it out of the plan


def test_a_failed_detach_is_reported_when_the_key_survives(ports):
    ports.analytics.fail("upsert_user")
    ports.api_keys.fail("detach_from_plan")
    ports.api_keys.fail("delete_key")

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    reason = ports.accounts.rows[ANN.email].failure_reason
    assert "detach API key" in reason and "delete API key" in reason


def test_a_key_left_by_a_taken_email_whose_delete_failed_is_found_as_orphaned_once_the_lease_ran_out(ports):
    service_for(ports).register(ANN, "fp-1")
    ports.api_keys.fail("delete_key")
    with pytest.raises(EmailAlreadyRegistered):
        service_for(ports).register(ANN, "fp-2")
    ((_, left),) = [
        (key_id, key)
        for key_id, key in ports.api_keys.keys.items()
        if key_id != ports.accounts.rows[ANN.email].api_key_id
    ]
    created = left["created_at"]

    cleanup = service_for(ports).cleanup
    assert cleanup.orphaned_keys(now=created + RESERVATION_LEASE_SECONDS) == []
    (orphan,) = cleanup.orphaned_keys(now=created + RESERVATION_LEASE_SECONDS + 1)
    assert orphan.name == left["name"] and orphan.name.startswith("tollgate-")


def test_keys_recorded_by_a_row_or_named_otherwise_are_never_orphaned(ports):
    service_for(ports).register(ANN, "fp-1")
    ports.api_keys.create_key("someone-elses-key", "")

    assert service_for(ports).cleanup.orphaned_keys(now=2**40) == []
    assert usage_key_id(ports) in ports.api_keys.keys


def test_a_finished_row_is_marked_failed_before_its_rollback_starts(ports):
    """If the function dies mid-rollback, no half-undone account is left looking active."""
    ports.analytics.fail("upsert_user")
    status_while_undoing = []
    cancel = ports.billing.cancel_subscription

    def observing_cancel(subscription_id):
        status_while_undoing.append(ports.accounts.rows[ANN.email].status)
        cancel(subscription_id)

    ports.billing.cancel_subscription = observing_cancel

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert status_while_undoing == [AccountStatus.FAILED]
    assert_nothing_left(ports)


def test_a_customer_whose_create_answered_a_replayed_500_is_found_by_its_key_id_and_deleted(ports):
    """Stripe saves a create's 500 once execution began and replays it for the same idempotency
    key (https://docs.stripe.com/idempotency): the rollback cannot learn the customer by repeating
    the create, so it searches by the key id the customer's metadata names."""
    ports.billing.saves_errors = True
    ports.billing.fail("create_customer", answer_lost=True)  # created, then a 5xx Stripe keeps answering

    with pytest.raises(DownstreamError):
        service_for(ports).register(ANN, "fp")

    assert ports.billing.customers == {}
    assert ports.billing.call_count("find_customers_for_key") == 1
    assert_nothing_left(ports)
