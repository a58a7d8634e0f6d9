"""Per-account usage counts (tollgate.domain.usage_counting): the usage reporter adds each ledger
object's calls to its accounts' UTC hours exactly once, free plans' calls included."""

from __future__ import annotations

from testkit.fake_metering import call_record, ledger_bytes
from testkit.metering_on_fakes import MeteringOnFakes
from tollgate.domain.usage_counting import PeriodUsage

ADA, BOB = "acct_" + "a" * 20, "acct_" + "b" * 20
HOUR_MS = 3_600_000
T0 = 1_796_000_400 * 1000  # a UTC hour's start, in ms


def metering_with_ada_and_bob() -> MeteringOnFakes:
    metering = MeteringOnFakes.create()
    metering.clock.now = T0 / 1000 + 2 * 3600
    metering.add_customer("usage-ada", "cus_ada", account_id=ADA)  # the default plan: paid (price_1)
    metering.add_customer("usage-bob", "cus_bob", account_id=BOB, plan_id="free")
    return metering


def test_metered_and_billable_calls_count_per_account_and_hour_free_plans_included():
    metering = metering_with_ada_and_bob()
    source = metering.ledger.put(
        ledger_bytes(
            [call_record("pool", account_id=BOB, at_ms=T0 + n) for n in range(3)]
            + [call_record("pool", account_id=BOB, status=404, at_ms=T0 + HOUR_MS + 1)]
            + [call_record("usage-ada", account_id=ADA, at_ms=T0 + HOUR_MS - 1)] * 2
        )
    )

    metering.deliver(source)

    assert metering.counts.period_usage(BOB, T0 // 1000, T0 // 1000 + 3600) == PeriodUsage(3, 3, {})
    assert metering.counts.period_usage(BOB, T0 // 1000, T0 // 1000 + 7200) == PeriodUsage(4, 3, {})
    assert metering.counts.period_usage(ADA, T0 // 1000, T0 // 1000 + 7200) == PeriodUsage(2, 2, {"price_1": 2})
    assert metering.meter.units("cus_bob") == 0  # counted, never sent to Stripe


def test_a_redelivered_object_is_counted_once():
    metering = metering_with_ada_and_bob()
    source = metering.ledger.put(ledger_bytes([call_record("pool", account_id=BOB, at_ms=T0)] * 4))

    metering.deliver(source)
    metering.deliver(source, receive_count=2)

    assert metering.counts.period_usage(BOB, T0 // 1000, T0 // 1000 + 3600).metered == 4


def test_an_accounts_old_and_new_records_in_one_object_count_together_once():
    metering = metering_with_ada_and_bob()
    source = metering.ledger.put(
        ledger_bytes([call_record("usage-ada", at_ms=T0), call_record("x", account_id=ADA, at_ms=T0)])
    )

    metering.deliver(source)

    assert metering.counts.period_usage(ADA, T0 // 1000, T0 // 1000 + 3600).metered == 2


def test_a_count_that_fails_sends_nothing_and_the_retry_counts_and_bills_once():
    metering = metering_with_ada_and_bob()
    source = metering.ledger.put(ledger_bytes([call_record("usage-ada", account_id=ADA, at_ms=T0)] * 3))
    metering.counts.fail("add")

    assert metering.deliver(source)["batchItemFailures"]
    assert metering.meter.events == []
    metering.deliver(source, receive_count=2)

    assert metering.counts.period_usage(ADA, T0 // 1000, T0 // 1000 + 3600).metered == 3
    assert metering.meter.units("cus_ada") == 3
