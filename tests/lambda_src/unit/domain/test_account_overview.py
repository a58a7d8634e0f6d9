"""What the account page shows, on fakes: each figure from its own source, and a figure that cannot
be read now left out (and named) while the rest still shows."""

from __future__ import annotations

from datetime import datetime, timezone

from testkit.world import World
from testkit.fake_ports import TEST_PLANS
from testkit.fake_metering import FakeUsageReports
from tollgate.domain.account_overview import AccountOverviews
from tollgate.domain.account import AccountStatus
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.usage import LedgerObject, MeterReport

PERIOD = (1_800_000_000, 1_802_592_000)


def overview_of(fakes: World, reports: FakeUsageReports | None, status: AccountStatus | None = None):
    account = fakes.ports.accounts.get("ada@example.com")
    if status is not None:
        account = account.with_status(status, 1, "test")
    return AccountOverviews(fakes.account_billing, fakes.plan_usage, reports, TEST_PLANS, fakes.clock).of(account)


def test_the_page_figures_come_from_the_invoice_preview_the_usage_records_and_the_usage_plan() -> None:
    fakes = World.create()
    account = fakes.signed_up("ada@example.com")
    fakes.account_billing.invoices[account.subscription_id] = UpcomingInvoice(70, "usd", *PERIOD)
    reports = FakeUsageReports()
    for identifier, customer, calls, at in (("a", account.customer_id, 4, PERIOD[0]), ("b", account.customer_id, 3,
                                            PERIOD[1] - 1), ("c", account.customer_id, 100, PERIOD[1]),
                                           ("d", "cus_other", 9, PERIOD[0] + 5)):
        reports.mark_pending(MeterReport(identifier, customer, calls, at, LedgerObject("b", identifier), "price_1"), at)
    today = datetime.fromtimestamp(fakes.clock(), timezone.utc).date()
    fakes.plan_usage.used[account.api_key_id, today] = 7

    overview = overview_of(fakes, reports)
    assert overview.invoice == UpcomingInvoice(70, "usd", *PERIOD)
    assert overview.billable_calls == 7  # this period's, this customer's
    assert (overview.quota_left, overview.quota) == (TEST_PLANS.default.quota_limit - 7, TEST_PLANS.default.quota_limit)
    assert overview.unavailable == ()
    assert [record.id for record in overview.keys] == [account.api_key_id]


def test_a_figure_that_cannot_be_read_is_named_and_the_others_still_show() -> None:
    fakes = World.create()
    fakes.signed_up("ada@example.com")
    fakes.plan_usage.fail("quota_left")
    overview = overview_of(fakes, FakeUsageReports())  # and no invoice preview: Stripe refuses
    assert overview.unavailable == ("amount", "usage", "quota")
    assert overview.keys and overview.account.email == "ada@example.com"


def test_a_canceled_account_shows_its_keys_and_asks_nothing_of_stripe() -> None:
    fakes = World.create()
    fakes.signed_up("ada@example.com")
    overview = overview_of(fakes, FakeUsageReports(), AccountStatus.CANCELED)
    assert (overview.invoice, overview.billable_calls, overview.quota, overview.unavailable) == (None, None, None, ())
    assert fakes.account_billing.call_count("upcoming_invoice") == 0
