"""Issue 21's done-when, in Chromium through `make dev`: a customer makes billable calls (and some that
are not billed), downloads the CSV of the period's calls from the account page, and its rows are the
units on the upcoming invoice Stripe (localstripe behind the bridge) shows for the subscription, each
at the unit amount of the subscription's price.

Every step is the customer's or Stripe's: calls through the local API Gateway, access log → ledger
(moto S3) → usage reporter → Stripe meter and evidence; the page asks the account function for the
period's file and follows the signed S3 URL it answers, which downloads the file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import stripe
from signup_page import AccountPage, assert_accessible, metered_call

from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from testkit import dev_stack as dev_stack_client
from tollgate.domain.evidence import COLUMNS

pytestmark = pytest.mark.browser

BILLED_CALLS = 6


def stripe_api(dev_stack: DevStackProcess) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": dev_stack.urls["stripe"]})


def upcoming_quantity(dev_stack: DevStackProcess, customer: dict) -> int:
    invoice = stripe_api(dev_stack).v1.invoices.create_preview(params={"customer": customer["customerId"],
                                                                       "subscription": customer["subscriptionId"]})
    return sum(line.quantity for line in invoice.lines.data)


def test_the_downloaded_csv_has_one_row_per_unit_of_the_upcoming_invoice(
        account: AccountPage, dev_stack: DevStackProcess, unique_email: str) -> None:
    customer = dev_stack_client.sign_up(dev_stack.urls, unique_email)
    api = dev_stack.urls["api"]
    assert [metered_call(api, customer["apikey"]) for _ in range(BILLED_CALLS)] == [200] * BILLED_CALLS
    assert [metered_call(api, customer["apikey"] + "x") for _ in range(3)] == [403] * 3  # a mistyped key: not billed
    dev_stack_client.wait_until(lambda: upcoming_quantity(dev_stack, customer) == BILLED_CALLS,
                                f"{BILLED_CALLS} calls to reach the upcoming invoice")

    account.sign_in(unique_email)
    with account.page.expect_download(timeout=30000) as started:
        account.page.get_by_role("button", name="Download calls (CSV)").click()
    download = started.value
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))

    assert download.suggested_filename.startswith("usage-") and download.suggested_filename.endswith(".csv")
    assert rows[0] == list(COLUMNS)
    assert len(rows) - 1 == upcoming_quantity(dev_stack, customer) == BILLED_CALLS
    assert {row[4] for row in rows[1:]} == {"200"} and {row[2] for row in rows[1:]} == {"GET"}
    assert len({row[1] for row in rows[1:]}) == BILLED_CALLS  # one row per request
    (item,) = stripe_api(dev_stack).v1.subscriptions.retrieve(customer["subscriptionId"])["items"].data
    assert {tuple(row[6:]) for row in rows[1:]} == {
        (item.price.id, str(item.price.unit_amount_decimal), item.price.currency)}
    status = account.page.locator("#evidence-status")
    assert f"{BILLED_CALLS} billed calls from" in status.inner_text()
    assert account.page.locator("#overview").is_visible()  # the download left the page as it was
    assert_accessible(account, "75-account-evidence-downloaded")
