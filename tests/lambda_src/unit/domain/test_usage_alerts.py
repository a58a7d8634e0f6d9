"""Usage alerts on fakes (tollgate.domain.usage_alerts): each threshold crossed is emailed once per
period, whatever the races, lost writes and failed sends between checks."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_ports import TEST_PLANS
from testkit.interleaving import Interleaved
from testkit.world import World
from tollgate.domain.errors import DownstreamError
from tollgate.domain.metering import UsageNotReported
from tollgate.domain.spend_control import (
    PeriodCharges,
    QuotaUsage,
    SpendFigures,
    SpendSettings,
    ThresholdKind,
    Window,
    charges,
)
from tollgate.domain.usage import LedgerObject
from tollgate.domain.usage_alerts import CLAIM_LEASE_SECONDS, UsageAlerts, crossed_this_period
from tollgate.plans import PlanCatalog

ADA = "ada@example.com"
PERIOD = 2_592_000


@pytest.fixture
def world() -> World:
    return World.create()


def figures(world: World, calls: int, start: int = 0) -> SpendFigures:
    """`calls` made in the quota period and in the billing period starting at `start` (one and the same here)."""
    window = Window(start, start + PERIOD)
    spent = charges(calls, "0.1", "usd")
    assert spent is not None
    return SpendFigures(QuotaUsage(window, calls), PeriodCharges(window, calls, spent, "usd"))


def check(world: World, calls: int, start: int = 0, alerts: UsageAlerts | None = None) -> list[str]:
    row = world.accounts.get(ADA)
    assert row is not None
    sent = (alerts or world.usage_alerts).check(row, world.plans.get(row.plan_id), figures(world, calls, start))
    return [threshold.id for threshold in sent]


def alert_subjects(world: World) -> list[str]:
    return [email.subject for email in world.mailer.to(ADA) if "quota" in email.subject or "charges" in email.subject]


def test_a_free_customer_gets_the_80_and_the_100_percent_emails_once_each(world: World) -> None:
    world.signed_up(ADA, "free")  # 1,000 calls a month

    assert check(world, 799) == []
    assert check(world, 800) == ["quota:80"]
    assert check(world, 950) == []
    assert check(world, 1_000) == ["quota:100"]
    assert check(world, 1_200) == []

    assert alert_subjects(world) == ["You have used 80% of your Free quota", "You have used 100% of your Free quota"]
    assert "https://" in world.mailer.to(ADA)[-1].text and "account" in world.mailer.to(ADA)[-1].text


def test_thresholds_crossed_together_each_send_their_email(world: World) -> None:
    world.signed_up(ADA, "free")
    assert check(world, 1_000) == ["quota:80", "quota:100"]


def test_a_new_period_sends_its_alerts_again(world: World) -> None:
    world.signed_up(ADA, "free")
    assert check(world, 900) == ["quota:80"]
    assert check(world, 900, start=PERIOD) == ["quota:80"]
    assert check(world, 1_000, start=0) == []  # a late check of the period before changes nothing


def test_a_paid_customer_is_emailed_when_the_periods_charges_reach_an_amount_they_set(world: World) -> None:
    account = world.signed_up(ADA, "standard")
    world.spend_choices.choose(account, '{"amounts": ["5.00"]}')

    assert check(world, 4_999) == []
    assert check(world, 5_000) == ["amount:5"]
    assert alert_subjects(world) == ["Your charges this period reached 5.00 USD"]


def test_a_check_running_while_another_is_sending_sends_nothing(world: World) -> None:
    """Two ledger objects reported at once: one check wins the claim, the other sees it and stops."""
    world.signed_up(ADA, "free")
    during: list[list[str]] = []
    send = world.mailer.send

    def send_while_another_check_runs(email):
        if not during:
            during.append(check(world, 800))
        return send(email)

    world.mailer.send = send_while_another_check_runs  # type: ignore[method-assign]  # the fake, for this test

    assert check(world, 800) == ["quota:80"]
    assert during == [[]]
    assert len(alert_subjects(world)) == 1


def test_a_claim_that_lost_the_race_is_decided_again_and_never_sent_twice(world: World) -> None:
    """A second check writes its claim between this one's read and write: this one's write is refused,
    it reads again, sees the claim, and sends nothing."""
    world.signed_up(ADA, "free")
    accounts = Interleaved(world.accounts)
    racing = UsageAlerts(accounts, world.mailer, world.emails, world.plans, world.spend_meter, world.clock)
    accounts.after_read(1, lambda: check(world, 800))  # right after the claim's read

    assert check(world, 800, alerts=racing) == []
    assert len(alert_subjects(world)) == 1


def test_a_claim_keeps_what_another_writer_changed_meanwhile(world: World) -> None:
    """The alert writer writes only `alerts_sent`: a customer's choice written during its check stays."""
    account = world.signed_up(ADA, "free")
    accounts = Interleaved(world.accounts)
    racing = UsageAlerts(accounts, world.mailer, world.emails, world.plans, world.spend_meter, world.clock)
    accounts.after_read(1, lambda: world.spend_choices.choose(account, '{"quotaPercents": [80, 90]}'))

    assert check(world, 800, alerts=racing) == ["quota:80"]
    row = world.accounts.get(ADA)
    assert row is not None and row.spend_settings == SpendSettings(quota_percents=(80, 90))


def test_an_email_that_failed_is_sent_by_the_next_check(world: World) -> None:
    world.signed_up(ADA, "free")
    world.mailer.fail_next("send")

    with pytest.raises(DownstreamError):
        check(world, 800)
    assert check(world, 800) == ["quota:80"]
    assert len(alert_subjects(world)) == 1


def test_a_sender_that_died_after_its_claim_is_replaced_once_the_claim_runs_out(world: World) -> None:
    world.signed_up(ADA, "free")
    world.mailer.fail_next("send")
    world.accounts.fail(
        "update", on_call=world.accounts.call_count("update") + 2
    )  # the claim is written, its release lost

    with pytest.raises(DownstreamError):
        check(world, 800)
    assert alert_subjects(world) == []
    assert check(world, 800) == []  # the claim may still be sending
    world.clock.advance(CLAIM_LEASE_SECONDS + 1)
    assert check(world, 800) == ["quota:80"]


def test_the_overview_shows_the_thresholds_crossed_this_period(world: World) -> None:
    world.signed_up(ADA, "free")
    check(world, 850)
    row = world.accounts.get(ADA)
    assert row is not None
    assert crossed_this_period(row, {ThresholdKind.QUOTA: 0}) == ("quota:80",)
    assert crossed_this_period(row, {ThresholdKind.QUOTA: PERIOD}) == ()
    assert crossed_this_period(replace(row, alerts_sent=None), {ThresholdKind.QUOTA: 0}) == ()


def test_a_quota_alert_and_an_amount_alert_each_belong_to_the_period_of_their_kind(world: World) -> None:
    """A paid plan's quota counts by calendar month while its charges count by billing period: a new
    quota period sends the quota alert again, and leaves the amount alert of the billing period sent."""
    account = world.signed_up(ADA, "standard")
    world.spend_choices.choose(account, '{"quotaPercents": [50], "amounts": ["1"]}')
    billing = PeriodCharges(Window(100, 100 + PERIOD), 6_000, charges(6_000, "0.1", "usd") or Decimal(0), "usd")
    row = world.row(account)
    plan = world.plans.get("standard")

    def sent(quota_start: int) -> list[str]:
        figures = SpendFigures(QuotaUsage(Window(quota_start, quota_start + PERIOD), 6_000), billing)
        return [threshold.id for threshold in world.usage_alerts.check(world.row(row), plan, figures)]

    assert sent(0) == ["quota:50", "amount:1"]
    assert sent(PERIOD) == ["quota:50"]  # the next calendar month, the same billing period
    assert sent(PERIOD) == []
    assert crossed_this_period(world.row(row), {ThresholdKind.QUOTA: PERIOD, ThresholdKind.AMOUNT: 100}) == (
        "amount:1",
        "quota:50",
    )


# --- through the reporter: each ledger object counted, then the alerts it crosses are emailed -------------

SMALL_FREE = PlanCatalog(tuple(replace(plan, quota_limit=10) if plan.id == "free" else plan for plan in TEST_PLANS))


def reported_calls(world: World, count: int) -> LedgerObject:
    """`count` calls of Ada now, in one ledger object the reporter reports; then a minute passes."""
    account = world.row(world.accounts.get(ADA) or world.signed_up(ADA))
    at_ms = int(world.clock() * 1000)
    source = world.ledger.put(
        ledger_bytes(
            [call_record(account.api_key_id, account_id=account.account_id, at_ms=at_ms + n) for n in range(count)]
        )
    )
    world.reporter.report_object(source)
    world.clock.advance(60)
    return source


def test_a_free_customer_is_emailed_at_80_and_100_percent_as_the_reporter_counts_their_calls() -> None:
    world = World.create(SMALL_FREE)
    world.signed_up(ADA, "free")

    reported_calls(world, 7)
    assert alert_subjects(world) == []
    reported_calls(world, 1)
    assert alert_subjects(world) == ["You have used 80% of your Free quota"]
    reported_calls(world, 2)
    reported_calls(world, 1)

    assert alert_subjects(world) == ["You have used 80% of your Free quota", "You have used 100% of your Free quota"]


def test_a_redelivered_ledger_object_sends_no_alert_twice() -> None:
    world = World.create(SMALL_FREE)
    world.signed_up(ADA, "free")
    source = reported_calls(world, 8)

    world.reporter.report_object(source)

    assert alert_subjects(world) == ["You have used 80% of your Free quota"]


def test_an_alert_ses_could_not_send_now_retries_the_object_and_is_sent_once() -> None:
    world = World.create(SMALL_FREE)
    world.signed_up(ADA, "free")
    world.mailer.fail_next("send")

    with pytest.raises(UsageNotReported) as failed:
        reported_calls(world, 8)
    assert failed.value.retryable and alert_subjects(world) == []
    world.reporter.report_object(list(world.ledger.objects)[-1])  # the queue's redelivery

    assert alert_subjects(world) == ["You have used 80% of your Free quota"]


def test_an_address_ses_refuses_does_not_hold_up_the_object_and_the_next_one_tries_again() -> None:
    world = World.create(SMALL_FREE)
    world.signed_up(ADA, "free")
    world.mailer.fail_next("send", error=DownstreamError("SES", "address on the suppression list", retryable=False))

    reported_calls(world, 8)  # no exception: retrying the object could not help
    reported_calls(world, 1)

    assert alert_subjects(world) == ["You have used 80% of your Free quota"]


def test_a_paid_customer_is_emailed_once_the_reporter_counts_charges_reaching_their_amount() -> None:
    world = World.create()
    world.spend_choices.choose(world.signed_up(ADA, "standard"), '{"amounts": ["0.01"]}')  # 10 calls

    reported_calls(world, 9)
    assert alert_subjects(world) == []
    reported_calls(world, 1)

    assert alert_subjects(world) == ["Your charges this period reached 0.01 USD"]
    assert "10 billed calls" in world.mailer.to(ADA)[-1].text
