"""RegistrationService on fakes: what a sign-up creates (a billed key that can call the API, the
subscription of the chosen plan, or none on a free plan, the key kept out of the plan until a card is
added where the plan needs one), what it tells Stripe and Moesif, and how its calls overlap."""

from __future__ import annotations

from dataclasses import replace

import pytest
from registrations import ANN, assert_nothing_left, service_for, usage_key_id

from testkit.fake_ports import TEST_PLANS, FakePorts
from testkit.faults import CallRecorder
from tollgate.domain.account import AccountStatus
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.errors import DownstreamError
from tollgate.domain.key_ring import KeyState
from tollgate.plans import PlanCatalog


def test_register_creates_a_billed_key_that_can_call_the_api(ports, clock):
    registration = service_for(ports, clock).register(ANN, "fp-1")

    key_id = ports.accounts.rows[ANN.email].api_key_id  # the usage key: never shown
    assert registration.status is AccountStatus.ACTIVE
    assert ports.api_keys.can_call_api(key_id)
    assert registration.key.value.startswith("tgk_live_") and registration.key.value not in str(ports.api_keys.keys)
    item = ports.key_items.get(key_hash(registration.key.value))
    assert (item.key_id, item.hint, item.account_id, item.account_status, item.plan, item.state) == (
        registration.key.id,
        registration.key.value[-4:],
        registration.account_id,
        "active",
        TEST_PLANS.default.id,
        KeyState.ACTIVE,
    )
    assert item.usage_key == ports.api_keys.keys[key_id]["value"] and registration.account_id.startswith("acct_")
    customer = ports.billing.customers[registration.customer_id]
    assert customer["email"] == ANN.email and customer["metadata"] == {"awsAPIKeyId": key_id}
    subscription = ports.billing.subscription(registration.subscription_id)
    assert (subscription.customer_id, subscription.status, [item.price_id for item in subscription.items]) == (
        registration.customer_id,
        "active",
        [TEST_PLANS.default.price_id],
    )
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

    ((_, (_, _, customer_key)),) = [c for c in ports.billing.calls if c[0] == "create_customer"]
    ((_, (_, subscription_key)),) = [c for c in ports.billing.calls if c[0] == "subscribe"]
    assert customer_key.startswith("tollgate-customer-") and customer_key.endswith("-attempt42")
    assert subscription_key.startswith("tollgate-subscription-") and subscription_key.endswith("-attempt42")
    assert ANN.email not in customer_key  # a hash, not the address


def test_independent_calls_overlap_so_the_critical_path_is_four_round_trips():
    recorder = CallRecorder()
    ports = FakePorts.create(latency=0.03, recorder=recorder)

    service_for(ports).register(ANN, "fp")

    assert (
        len(recorder.records) == 11
    )  # reserve, key, customer, subscription, company, user, attach, key item, 3 ledger writes
    assert recorder.longest_sequential_chain() == 4


def test_attaching_the_key_to_the_plan_starts_only_after_billing_exists():
    recorder = CallRecorder()
    ports = FakePorts.create(latency=0.01, recorder=recorder)

    service_for(ports).register(ANN, "fp")

    by_method = {record.method: record for record in recorder.records}
    assert by_method["attach_to_plan"].started >= by_method["subscribe"].ended


def test_require_payment_method_creates_everything_but_keeps_the_key_out_of_the_plan(ports):
    registration = service_for(ports).register(replace(ANN, plan_id="pro"), "fp")

    assert registration.status is AccountStatus.AWAITING_PAYMENT_METHOD
    assert ports.api_keys.plan == {}
    assert ports.api_keys.call_count("attach_to_plan") == 0
    row = ports.accounts.rows[ANN.email]
    assert row.status is AccountStatus.AWAITING_PAYMENT_METHOD
    assert (row.api_key_id, row.customer_id, row.subscription_id) == (
        usage_key_id(ports),
        registration.customer_id,
        registration.subscription_id,
    )
    assert registration.account_id in ports.analytics.users


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
