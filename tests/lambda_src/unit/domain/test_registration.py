"""RegistrationService over in-memory fakes: the flow, its rollback at every step, the ledger of
`failed` rows, lease takeover and the payment-method switch."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from testkit.fake_ports import TEST_PLANS, FakePorts
from testkit.faults import CallRecorder
from tollgate.domain.account import RESERVATION_LEASE_SECONDS, Account, AccountStatus, KeyState
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered, RegistrationInProgress
from tollgate.domain.models import Registrant
from tollgate.domain.registration import RegistrationService, _Attempt
from tollgate.plans import PlanCatalog

ANN = Registrant(email="ann@example.com", first_name="Ann", last_name="Lee")


class Clock:
    def __init__(self, now: float = 1_800_000_000):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ports() -> FakePorts:
    return FakePorts.create()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def service_for(ports: FakePorts, clock: Clock | None = None, **options) -> RegistrationService:
    return RegistrationService(
        ports.api_keys, ports.billing, ports.analytics, ports.accounts, clock=clock or Clock(), metrics=ports.metrics,
        key_items=ports.key_items, **{"plans": TEST_PLANS, **options})


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


def test_register_creates_a_billed_key_that_can_call_the_api(ports, clock):
    registration = service_for(ports, clock).register(ANN, "fp-1")

    key_id = ports.accounts.rows[ANN.email].api_key_id  # the usage key: never shown
    assert registration.status is AccountStatus.ACTIVE
    assert ports.api_keys.can_call_api(key_id)
    assert registration.key.value.startswith("tgk_live_") and registration.key.value not in str(ports.api_keys.keys)
    item = ports.key_items.get(key_hash(registration.key.value))
    assert (item.key_id, item.hint, item.account_id, item.account_status, item.plan, item.state) == (
        registration.key.id, registration.key.value[-4:], registration.account_id, "active",
        TEST_PLANS.default.id, KeyState.ACTIVE)
    assert item.usage_key == ports.api_keys.keys[key_id]["value"] and registration.account_id.startswith("acct_")
    customer = ports.billing.customers[registration.customer_id]
    assert customer["email"] == ANN.email and customer["metadata"] == {"awsAPIKeyId": key_id}
    subscription = ports.billing.subscription(registration.subscription_id)
    assert (subscription.customer_id, subscription.status, [item.price_id for item in subscription.items]) == (
        registration.customer_id, "active", [TEST_PLANS.default.price_id])
    assert ports.api_keys.plan[key_id] == TEST_PLANS.default.usage_plan_id
    assert ports.analytics.companies[registration.subscription_id]["stripe_customer_id"] == registration.customer_id
    assert ports.analytics.users[registration.account_id] == {
        "company_id": registration.subscription_id,
        "metadata": {"email": ANN.email, "first_name": "Ann", "last_name": "Lee"},
    }
    row = ports.accounts.rows[ANN.email]
    assert (row.status, row.api_key_id, row.customer_id, row.subscription_id) == (
        AccountStatus.ACTIVE,
        key_id,
        registration.customer_id,
        registration.subscription_id,
    )
    assert row.lease_expires_at is None and row.request_fingerprint == "fp-1"
    assert [change.status.value for change in row.history] == ["pending", "active"]


def test_the_key_value_is_never_sent_to_moesif_or_stripe(ports):
    registration = service_for(ports).register(ANN, "fp")

    sent = repr(ports.analytics.calls) + repr(ports.analytics.companies) + repr(ports.analytics.users)
    sent += repr(ports.billing.calls) + repr(ports.billing.customers)
    assert registration.key.value not in sent


def test_stripe_calls_carry_idempotency_keys_derived_from_the_reservation(ports):
    service_for(ports, new_attempt_id=lambda: "attempt42").register(ANN, "fp")

    (_, (_, _, customer_key)), = [c for c in ports.billing.calls if c[0] == "create_customer"]
    (_, (_, subscription_key)), = [c for c in ports.billing.calls if c[0] == "subscribe"]
    assert customer_key.startswith("tollgate-customer-") and customer_key.endswith("-attempt42")
    assert subscription_key.startswith("tollgate-subscription-") and subscription_key.endswith("-attempt42")
    assert ANN.email not in customer_key  # a hash, not the address


def test_independent_calls_overlap_so_the_critical_path_is_four_round_trips():
    recorder = CallRecorder()
    ports = FakePorts.create(latency=0.03, recorder=recorder)

    service_for(ports).register(ANN, "fp")

    assert len(recorder.records) == 11  # reserve, key, customer, subscription, company, user, attach, key item, 3 ledger writes
    assert recorder.longest_sequential_chain() == 4


def test_attaching_the_key_to_the_plan_starts_only_after_billing_exists():
    recorder = CallRecorder()
    ports = FakePorts.create(latency=0.01, recorder=recorder)

    service_for(ports).register(ANN, "fp")

    by_method = {record.method: record for record in recorder.records}
    assert by_method["attach_to_plan"].started >= by_method["subscribe"].ended


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


def only_customer_key(ports: FakePorts) -> str:
    (customer_key,) = {args[2] for method, args in ports.billing.calls if method == "create_customer"}
    return customer_key


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


def test_a_sign_up_that_died_after_an_unconfirmed_customer_create_is_cleaned_by_the_next_one(
    ports, clock, monkeypatch
):
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
        email=ANN.email, status=AccountStatus.PENDING, lease_expires_at=int(clock.now) + 60,
        attempt_id="other", request_fingerprint="fp-1",
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
        email=ANN.email, status=AccountStatus.PENDING, lease_expires_at=int(clock.now) - 1, attempt_id="crashed",
        api_key_id=crashed_key.id, customer_id=crashed_customer, subscription_id=crashed_subscription,
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
        email=ANN.email, status=AccountStatus.PENDING, lease_expires_at=int(clock.now) - 1, attempt_id="crashed",
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


def test_require_payment_method_creates_everything_but_keeps_the_key_out_of_the_plan(ports):
    registration = service_for(ports).register(replace(ANN, plan_id="pro"), "fp")

    assert registration.status is AccountStatus.AWAITING_PAYMENT_METHOD
    assert ports.api_keys.plan == {}
    assert ports.api_keys.call_count("attach_to_plan") == 0
    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.AWAITING_PAYMENT_METHOD
    assert (row.api_key_id, row.customer_id, row.subscription_id) == (
        usage_key_id(ports), registration.customer_id, registration.subscription_id,
    )
    assert registration.account_id in ports.analytics.users


def test_a_slow_attempt_that_lost_its_reservation_undoes_its_own_work_and_leaves_the_row(ports, clock):
    service = service_for(ports, clock, lease_seconds=10)
    newer = Account(email=ANN.email, status=AccountStatus.PENDING, attempt_id="newer",
                    lease_expires_at=int(clock.now) + 100)
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
    (_, left), = [(key_id, key) for key_id, key in ports.api_keys.keys.items()
                  if key_id != ports.accounts.rows[ANN.email].api_key_id]
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


# --- issue 11: a canceled customer can sign up again -----------------------------------------------


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
    assert row.status is AccountStatus.ACTIVE and row.current_key.id == again.key.id and row.api_key_id != canceled.api_key_id
    assert again.subscription_id != canceled.subscription_id and again.subscription_id in ports.billing.live_subscription_ids()
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


def test_a_paid_plan_subscribes_to_its_price_and_puts_the_key_on_its_usage_plan(ports):
    pro = TEST_PLANS.get("pro")
    service = service_for(ports, plans=PlanCatalog((replace(pro, requires_payment_method=False),)))

    registration = service.register(replace(ANN, plan_id="pro"), "fp")

    assert ports.billing.subscription(registration.subscription_id).has_price(pro.price_id)
    assert ports.api_keys.plan == {usage_key_id(ports): pro.usage_plan_id}
    assert ports.accounts.rows[ANN.email].plan_id == "pro"


def test_a_free_plan_has_a_customer_and_a_working_key_but_no_subscription(ports):
    free = TEST_PLANS.get("free")

    registration = service_for(ports).register(replace(ANN, plan_id="free"), "fp")

    assert registration.status is AccountStatus.ACTIVE and registration.subscription_id is None
    assert ports.billing.subscriptions == {} and ports.billing.call_count("subscribe") == 0
    assert ports.api_keys.plan == {usage_key_id(ports): free.usage_plan_id}
    assert ports.can_call(registration.key.value)
    row = ports.accounts.rows[ANN.email]
    assert (row.plan_id, row.customer_id, row.subscription_id) == ("free", registration.customer_id, None)
    # Moesif's company is the customer while there is no subscription.
    assert ports.analytics.users[registration.account_id]["company_id"] == registration.customer_id


def test_a_free_sign_up_that_fails_takes_its_key_out_of_the_free_usage_plan(ports):
    ports.analytics.fail("upsert_user")

    with pytest.raises(DownstreamError):
        service_for(ports).register(replace(ANN, plan_id="free"), "fp")

    assert_nothing_left(ports)
