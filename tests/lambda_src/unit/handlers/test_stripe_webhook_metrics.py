"""Issue 14: the webhook counts every delivery by outcome, and the key changes it makes, through the
deployed handler on fakes (a signed Stripe event in, FakeMetrics recording what was counted)."""

from __future__ import annotations

import time

import pytest

from testkit.fake_ports import TEST_PLANS, FakePorts
from testkit.fake_wiring import FAKE_STRIPE_SECRET, deployed_on_fakes
from testkit.lambda_events import DeployedFunction
from testkit.stripe_events import deliver, stripe_event
from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.errors import DownstreamError

WEBHOOK_MODULE = "tollgate.handlers.stripe_webhook"
SIGNING_SECRET = FAKE_STRIPE_SECRET[contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET]
EVENTS = contract.METRIC_WEBHOOK_EVENTS


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts.create()
    key = ports.api_keys.create_key("tollgate-ann", "Ann's key")
    ports.api_keys.attach_to_plan(key.id, TEST_PLANS.default.usage_plan_id)
    ports.billing.customers["cus_ann"] = {"email": "ann@example.com", "name": "Ann", "metadata": {}}
    ports.billing.put_subscription("sub_ann", "cus_ann", "active")
    ports.accounts.rows["ann@example.com"] = Account(
        email="ann@example.com",
        status=AccountStatus.ACTIVE,
        api_key_id=key.id,
        customer_id="cus_ann",
        subscription_id="sub_ann",
    ).with_keys_synced()
    return ports


@pytest.fixture
def webhook(ports) -> DeployedFunction:
    return deployed_on_fakes(WEBHOOK_MODULE, ports)


def subscription_event(status: str, created: int | None = None) -> str:
    event_type = "customer.subscription.deleted" if status == "canceled" else "customer.subscription.updated"
    return stripe_event(
        event_type, {"id": "sub_ann", "object": "subscription", "customer": "cus_ann", "status": status}, created
    )


def counted(ports: FakePorts) -> dict[str, float]:
    return {name: ports.metrics.total(name) for name in sorted(ports.metrics.names())}


def test_an_applied_event_counts_it_and_the_key_it_disabled(ports, webhook):
    ports.billing.subscriptions["sub_ann"]["status"] = "past_due"

    assert deliver(webhook, subscription_event("past_due"), secret=SIGNING_SECRET)[0] == 200

    assert counted(ports) == {EVENTS["applied"]: 1, contract.METRIC_KEYS_DISABLED: 1}


def test_a_payment_that_restores_the_key_counts_it_enabled(ports, webhook):
    ports.billing.subscriptions["sub_ann"]["status"] = "past_due"
    deliver(webhook, subscription_event("past_due"), secret=SIGNING_SECRET)
    ports.billing.subscriptions["sub_ann"]["status"] = "active"

    deliver(webhook, subscription_event("active", created=int(time.time()) + 1), secret=SIGNING_SECRET)

    assert counted(ports) == {EVENTS["applied"]: 2, contract.METRIC_KEYS_DISABLED: 1, contract.METRIC_KEYS_ENABLED: 1}


def test_a_replayed_event_counts_as_duplicate_and_changes_no_key(ports, webhook):
    ports.billing.subscriptions["sub_ann"]["status"] = "past_due"
    payload = subscription_event("past_due")
    deliver(webhook, payload, secret=SIGNING_SECRET)

    assert deliver(webhook, payload, secret=SIGNING_SECRET)[0] == 200

    assert counted(ports) == {EVENTS["applied"]: 1, EVENTS["duplicate"]: 1, contract.METRIC_KEYS_DISABLED: 1}


def test_an_older_event_arriving_late_counts_as_stale(ports, webhook):
    ports.billing.subscriptions["sub_ann"]["status"] = "canceled"
    now = int(time.time())
    deliver(webhook, subscription_event("canceled", created=now), secret=SIGNING_SECRET)

    deliver(webhook, subscription_event("active", created=now - 60), secret=SIGNING_SECRET)

    assert counted(ports) == {EVENTS["applied"]: 1, EVENTS["stale"]: 1, contract.METRIC_KEYS_DISABLED: 1}


def test_an_event_about_no_account_counts_as_ignored(ports, webhook):
    other = stripe_event(
        "customer.subscription.updated",
        {"id": "sub_other", "object": "subscription", "customer": "cus_other", "status": "active"},
    )

    assert deliver(webhook, other, secret=SIGNING_SECRET)[0] == 200

    assert counted(ports) == {EVENTS["ignored"]: 1}


@pytest.mark.parametrize("secret, signature", [("whsec_someone_else", None), (SIGNING_SECRET, "")])
def test_a_delivery_stripe_did_not_sign_counts_as_a_rejected_signature(ports, webhook, secret, signature):
    assert deliver(webhook, subscription_event("canceled"), secret=secret, signature=signature)[0] == 400

    assert counted(ports) == {EVENTS["rejected_signature"]: 1}  # and nothing was applied


def test_an_event_stripe_must_retry_counts_as_retry_later(ports, webhook):
    ports.billing.fail("subscription", error=DownstreamError("stripe", "timed out"))

    assert deliver(webhook, subscription_event("past_due"), secret=SIGNING_SECRET)[0] == 503

    assert counted(ports) == {EVENTS["retry_later"]: 1}
