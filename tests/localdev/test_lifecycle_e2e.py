"""The billing lifecycle in `make dev`, as a user meets it: sign up through the local API Gateway,
then Stripe (localstripe behind the bridge, its webhooks pointed at the local /stripe/webhook
route by bootstrap) changes the subscription, and the key follows; the calls the key makes reach
the customer's upcoming invoice (issue 10).

Nothing here calls a handler directly: every effect travels Stripe → signed webhook → local API
Gateway → webhook handler → moto, or call → access log → ledger (moto S3) → S3 event → usage queue
(moto SQS) → usage reporter → Stripe meter, exactly as it would in AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
import stripe

from localdev.__main__ import PROJECT_ROOT
from localdev.bootstrap import STRIPE_TEST_SECRET_KEY
from localdev.dev_stack_process import DevStackProcess
from testkit.dev_stack import UNCACHED_AUTHORIZER, card_first_context, request, sign_up, usage_key_id, wait_until
from tollgate import contract


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStackProcess]:
    with DevStackProcess(context=UNCACHED_AUTHORIZER) as running:
        yield running


@pytest.fixture(scope="module")
def stack_requiring_a_payment_method() -> Iterator[DevStackProcess]:
    """`make dev` whose default plan needs a card first, as a deployment with require_payment_method on."""
    with DevStackProcess(context={**card_first_context(), **UNCACHED_AUTHORIZER}) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_api(stack: DevStackProcess) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": stack.urls["stripe"]})


@pytest.fixture(scope="module")
def apigateway(stack: DevStackProcess):
    return boto3.client(
        "apigateway",
        endpoint_url=stack.urls["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def metered_call(stack: DevStackProcess, api_key: str) -> int:
    return request(stack.urls["api"] + "/hello", headers={contract.API_KEY_HEADER: api_key})[0]


def test_cancelling_the_subscription_in_stripe_cuts_the_key_off(stack, stripe_api, apigateway):
    account = sign_up(stack.urls)
    assert metered_call(stack, account["apikey"]) == 200

    stripe_api.v1.subscriptions.cancel(account["subscriptionId"])
    usage_key = usage_key_id(stack, account["apikey"])
    wait_until(
        lambda: not apigateway.get_api_key(apiKey=usage_key)["enabled"],
        "customer.subscription.deleted to reach the webhook and disable the key",
    )

    # The very next call is refused: the gateway checks the key on every request, no cache.
    assert metered_call(stack, account["apikey"]) == 403


def complete_checkout(stack: DevStackProcess, account: dict, test_card: str = "pm_card_visa") -> dict:
    """What the signup page's "Add a payment method" button and the customer's "Complete" click
    on the Checkout page (with `test_card` chosen) do; the bridge delivers the signed
    checkout.session.completed to the local webhook before it answers."""
    status, body = request(
        stack.urls["api"] + contract.ROUTE_CHECKOUT,
        {"keyId": account["keyId"]},
        {"Origin": stack.urls["site"], contract.API_KEY_HEADER: account["apikey"]},
    )
    assert status == 200, body
    assert body["url"].startswith(stack.urls["stripe"] + "/_bridge/checkout/")
    completion = urllib.request.Request(
        body["url"] + "/complete", data=f"payment_method={test_card}".encode(), method="POST"
    )
    with urllib.request.urlopen(completion, timeout=30) as answer:
        status, completed = answer.status, json.loads(answer.read())
    assert status == 200, completed
    assert [delivery["status"] for delivery in completed["deliveries"]] == [200]
    return completed


def test_adding_a_payment_method_through_checkout_makes_it_the_customers_default(stack, stripe_api):
    account = sign_up(stack.urls)

    completed = complete_checkout(stack, account)

    customer = stripe_api.v1.customers.retrieve(account["customerId"])
    assert customer.invoice_settings.default_payment_method == completed["payment_method"]
    assert metered_call(stack, account["apikey"]) == 200


def test_with_require_payment_method_the_key_works_only_once_checkout_completes(stack_requiring_a_payment_method):
    stack = stack_requiring_a_payment_method
    account = sign_up(stack.urls)
    assert account["status"] == "awaiting_payment_method"
    assert metered_call(stack, account["apikey"]) == 403

    complete_checkout(stack, account)

    assert metered_call(stack, account["apikey"]) == 200


def upcoming_quantity(stripe_api: stripe.StripeClient, account: dict) -> int:
    invoice = stripe_api.v1.invoices.create_preview(
        params={"customer": account["customerId"], "subscription": account["subscriptionId"]}
    )
    (line,) = invoice.lines.data
    return line.quantity


def test_seven_calls_reach_the_upcoming_invoice_and_the_usage_report_finds_no_difference(stack, stripe_api):
    """A paid customer's calls are compared on its own key; a free one's, made through its pool's shared
    key, on the pool's row (make dev pools the free plan: free_pool_size)."""
    account, free = sign_up(stack.urls), sign_up(stack.urls, plan="free")
    for _ in range(2):  # (first: the ledger has them once the paid calls reached Stripe)
        assert metered_call(stack, free["apikey"]) == 200
    for _ in range(7):
        assert metered_call(stack, account["apikey"]) == 200
    assert request(stack.urls["api"] + "/hello", headers={contract.API_KEY_HEADER: "not-a-key"})[0] == 403

    wait_until(lambda: upcoming_quantity(stripe_api, account) == 7, "7 calls to reach the Stripe meter")

    report = subprocess.run(
        [sys.executable, "-m", "ops.usage_report"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{name: value for name, value in os.environ.items() if not name.startswith(("TOLLGATE_", "AWS_"))},
            "DEV_STACK_FILE": str(stack.stack_file),
        },
    )
    assert report.returncode == 0, report.stdout + report.stderr
    (row,) = [line.split() for line in report.stdout.splitlines() if line.startswith(account["customerId"])]
    # its ids: its gateway key (API Gateway's counts) and its account (the ledger's caller: principalId)
    # (sorted as text: which comes first depends on the random key id)
    ids = set(row[1].split(","))
    gateway_key_id = usage_key_id(stack, account["apikey"])
    assert gateway_key_id in ids and [other[:5] for other in ids - {gateway_key_id}] == [contract.ACCOUNT_ID_PREFIX]
    assert row[2:] == ["7", "7", "0", "7", "7", "0", "0"]  # gateway, ledger, pooled, billable, stripe, gaps
    (free_row,) = [line.split() for line in report.stdout.splitlines() if line.startswith(free["customerId"])]
    assert free_row[1:] == [free["accountId"], "0", "2", "2", "0", "-", "0", "-"]
    (pool_row,) = [line.split() for line in report.stdout.splitlines() if line.startswith("(pool free)")]
    assert pool_row[-3:] == ["-", "0", "-"]  # its shared keys' count matches the ledger's calls through them
    assert "Every difference is within 0." in report.stdout


def fall_behind(stack: DevStackProcess, account: dict, amount_due: int) -> dict:
    """The bridge's hook: the subscription goes past_due with an open invoice; Stripe's
    invoice.payment_failed and customer.subscription.updated reach the local webhook first."""
    status, answer = request(
        f"{stack.urls['stripe']}/_bridge/subscriptions/{account['subscriptionId']}/past_due", {"amount_due": amount_due}
    )
    assert status == 200, answer
    assert [d["status"] for d in answer["deliveries"]] == [200, 200]
    return answer["invoice"]


def test_a_past_due_customer_who_adds_a_card_that_pays_has_the_invoice_paid_and_the_key_back(stack, stripe_api):
    account = sign_up(stack.urls)
    invoice = fall_behind(stack, account, amount_due=1250)
    assert metered_call(stack, account["apikey"]) == 403

    complete_checkout(stack, account, "pm_card_visa")

    assert stripe_api.v1.invoices.retrieve(invoice["id"]).status == "paid"
    assert stripe_api.v1.subscriptions.retrieve(account["subscriptionId"]).status == "active"
    assert metered_call(stack, account["apikey"]) == 200


def test_a_past_due_customer_whose_new_card_is_declined_stays_cut_off(stack, stripe_api):
    account = sign_up(stack.urls)
    invoice = fall_behind(stack, account, amount_due=1250)

    complete_checkout(stack, account, "pm_card_chargeCustomerFail")

    assert stripe_api.v1.invoices.retrieve(invoice["id"]).status == "open"
    assert stripe_api.v1.subscriptions.retrieve(account["subscriptionId"]).status == "past_due"
    assert metered_call(stack, account["apikey"]) == 403
