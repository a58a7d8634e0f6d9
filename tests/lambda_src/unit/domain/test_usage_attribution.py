"""Issue 20: the ledger's caller is the account. A metered call is attributed to the account id the
key authorizer answered (`principalId`), whatever gateway key carried it (free plans share pooled
keys); records from before the authorizer, which have none, through their API key id."""

from __future__ import annotations

from testkit.fake_metering import call_record, ledger_bytes
from testkit.metering_on_fakes import MeteringOnFakes
from tollgate.domain.metering import meter_event_identifier
from tollgate.domain.usage import BillableStatuses, read_ledger

ADA, BOB = "acct_" + "a" * 20, "acct_" + "b" * 20
POOLED_KEY = "pooled-key-1"


def test_a_call_is_its_accounts_when_the_record_names_one_else_its_keys():
    usage = read_ledger(
        ledger_bytes(
            [
                call_record(POOLED_KEY, account_id=ADA),
                call_record(POOLED_KEY, account_id=BOB),
                call_record(POOLED_KEY, account_id=BOB),
                call_record("key-old"),
                call_record(None, account_id=ADA),  # a record with an account and no key id still counts
            ]
        ),
        BillableStatuses.parse("2xx"),
    )

    assert {caller: usage.calls for caller, usage in usage.by_caller.items()} == {ADA: 2, BOB: 2, "key-old": 1}


def test_a_denied_calls_placeholder_principal_is_no_account():
    usage = read_ledger(ledger_bytes([call_record("key-1", account_id="anonymous")]), BillableStatuses.parse("2xx"))

    assert set(usage.by_caller) == {"key-1"}


def test_accounts_sharing_a_pooled_key_are_each_billed_their_own_calls():
    metering = MeteringOnFakes.create()
    metering.add_customer("usage-ada", "cus_ada", account_id=ADA)
    metering.add_customer("usage-bob", "cus_bob", account_id=BOB)
    source = metering.ledger.put(
        ledger_bytes([call_record(POOLED_KEY, account_id=ADA)] * 2 + [call_record(POOLED_KEY, account_id=BOB)] * 3)
    )

    metering.deliver(source)

    assert (metering.meter.units("cus_ada"), metering.meter.units("cus_bob")) == (2, 3)
    assert metering.reports.summaries[source].unknown_keys == {}


def test_old_and_new_records_of_one_customer_make_the_identifier_they_always_made():
    """Exactly once across the upgrade: the identifier is the (object, customer, price)'s, however the
    calls were attributed, so an object reported before the upgrade and redelivered after it is
    recognised (and the old records of the same customer in one object join its new ones)."""
    metering = MeteringOnFakes.create()
    metering.add_customer("usage-ada", "cus_ada", account_id=ADA)
    source = metering.ledger.put(ledger_bytes([call_record("usage-ada"), call_record("usage-ada", account_id=ADA)]))

    metering.deliver(source)
    metering.deliver(source)

    (event,) = metering.meter.events
    assert (event.identifier, event.value) == (meter_event_identifier(source, "cus_ada", "price_1"), 2)


def test_calls_of_no_account_are_counted_per_caller_and_not_billed():
    metering = MeteringOnFakes.create()
    source = metering.ledger.put(ledger_bytes([call_record(POOLED_KEY, account_id=ADA)] * 2 + [call_record("gone")]))

    metering.deliver(source)

    assert metering.meter.events == []
    assert metering.reports.summaries[source].unknown_keys == {ADA: 2, "gone": 1}
