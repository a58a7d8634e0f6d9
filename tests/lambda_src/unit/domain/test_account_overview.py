"""What the account page shows, on fakes: each figure from its own source, and a figure that cannot
be read now left out (and named) while the rest still shows."""

from __future__ import annotations

from datetime import UTC, datetime

from testkit.fake_metering import FakeUsageReports
from testkit.fake_ports import TEST_PLANS
from testkit.world import World
from tollgate.domain.account import AccountStatus
from tollgate.domain.account_overview import AccountOverviews, EndingSubscription
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
    for identifier, customer, calls, at in (
        ("a", account.customer_id, 4, PERIOD[0]),
        ("b", account.customer_id, 3, PERIOD[1] - 1),
        ("c", account.customer_id, 100, PERIOD[1]),
        ("d", "cus_other", 9, PERIOD[0] + 5),
    ):
        reports.mark_pending(MeterReport(identifier, customer, calls, at, LedgerObject("b", identifier), "price_1"), at)
    today = datetime.fromtimestamp(fakes.clock(), UTC).date()
    fakes.plan_usage.used[account.api_key_id, today] = 7

    overview = overview_of(fakes, reports)
    assert overview.invoice == UpcomingInvoice(70, "usd", *PERIOD)
    assert overview.billable_calls == 7  # this period's, this customer's
    assert (overview.quota_left, overview.quota) == (TEST_PLANS.default.quota_limit - 7, TEST_PLANS.default.quota_limit)
    assert overview.unavailable == ()
    assert [record.id for record in overview.keys] == [account.current_key.id]


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


# ---- paid -> free in the same period ---------------------------------------------------------------


def change(fakes: World, plan_id: str) -> None:
    """The customer chooses `plan_id` on the account page, an hour after the last thing they did."""
    fakes.clock.advance(3600)
    fakes.plan_changes.request(
        fakes.accounts.get("ada@example.com"), plan_id, f"request-{plan_id}", "https://shop.example/account"
    )


def changed_to_free(fakes: World) -> tuple[int, int]:
    """Ada on Standard made paid calls this period (the invoice's), then changed to Free: the period."""
    account = fakes.signed_up("ada@example.com")
    period = (int(fakes.clock()) - 10 * 86_400, int(fakes.clock()) + 20 * 86_400)
    fakes.account_billing.invoices[account.subscription_id] = UpcomingInvoice(1_234, "usd", *period)
    change(fakes, "free")
    return period


def test_after_a_change_from_paid_to_free_the_overview_shows_what_stripe_still_bills_and_on_which_plan() -> None:
    fakes = World.create()
    period = changed_to_free(fakes)
    account = fakes.ports.accounts.get("ada@example.com")
    reports = FakeUsageReports()
    reports.mark_pending(
        MeterReport("a", account.customer_id, 12, period[0] + 60, LedgerObject("b", "a"), "price_1"), period[0] + 60
    )
    assert fakes.ports.billing.subscription(account.subscription_id).cancel_at_period_end  # ends with the period

    overview = overview_of(fakes, reports)
    assert overview.plan.is_free and overview.invoice == UpcomingInvoice(1_234, "usd", *period)
    assert overview.ending == EndingSubscription((TEST_PLANS.get("standard"),))
    assert (overview.billable_calls, overview.unavailable) == (12, ())


def test_the_paid_plans_named_are_those_of_the_invoices_period_and_never_a_free_one() -> None:
    fakes = World.create()
    period_start = int(fakes.clock()) - 86_400
    fakes.signed_up("ada@example.com", plan_id="free")
    change(fakes, "standard")  # subscribes
    subscription_id = fakes.ports.accounts.get("ada@example.com").subscription_id
    fakes.account_billing.invoices[subscription_id] = UpcomingInvoice(
        300, "usd", period_start, period_start + 2_592_000
    )
    change(fakes, "free")  # Free, Standard, Free this period: Standard's calls are billed

    assert overview_of(fakes, FakeUsageReports()).ending == EndingSubscription((TEST_PLANS.get("standard"),))
    fakes.account_billing.invoices[subscription_id] = UpcomingInvoice(
        0, "usd", int(fakes.clock()) + 60, int(fakes.clock()) + 2_592_000
    )
    assert overview_of(fakes, FakeUsageReports()).ending == EndingSubscription(())  # a period after the change


def test_when_stripe_cannot_say_the_amount_the_ending_subscription_still_shows_and_usage_is_unknown() -> None:
    """Never "nothing to pay" on a free plan whose subscription still bills: the amount is unknown."""
    fakes = World.create()
    changed_to_free(fakes)
    fakes.account_billing.invoices.clear()  # the preview fails
    overview = overview_of(fakes, FakeUsageReports())
    assert overview.ending == EndingSubscription(())
    assert overview.unavailable == ("amount", "usage")


def test_once_the_subscription_has_ended_a_free_account_has_nothing_billed_and_stripe_is_not_asked() -> None:
    fakes = World.create()
    changed_to_free(fakes)
    ended = fakes.ports.accounts.get("ada@example.com").with_subscription(None)  # the lifecycle, once it ended
    overview = AccountOverviews(
        fakes.account_billing, fakes.plan_usage, FakeUsageReports(), TEST_PLANS, fakes.clock
    ).of(ended)
    assert (overview.ending, overview.invoice, overview.unavailable) == (None, None, ())
    assert fakes.account_billing.call_count("upcoming_invoice") == 0
