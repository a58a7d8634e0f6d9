"""The CreditLedger port: FakeCreditLedger and DynamoCreditLedger on moto answer alike. An entry is
appended once whatever the retries, the balance is always the sum of the entries, and entries come back
oldest first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from testkit.fake_credits import FakeCreditLedger
from tollgate.adapters.dynamo_credit_ledger import DynamoCreditLedger
from tollgate.domain.credits import CreditBook, CreditEntry, CreditKind
from tollgate.domain.ports.credits import CreditLedger
from tollgate.plans import micros


@pytest.fixture(scope="module", params=["fake", "dynamodb"])
def ledger(request) -> Iterator[CreditLedger]:
    if request.param == "fake":
        yield FakeCreditLedger()
        return
    aws = request.getfixturevalue("aws")
    yield DynamoCreditLedger(request.getfixturevalue("aws_clients").client("dynamodb"), aws.credits_table)


@pytest.fixture
def account_id() -> str:
    return f"acct_{uuid.uuid4().hex[:20]}"


def test_a_purchase_replayed_adds_its_credit_once(ledger, account_id):
    book = CreditBook(ledger)
    assert book.purchase(account_id, "cs_1", micros("10.00"), 100, "ten") is True
    assert book.purchase(account_id, "cs_1", micros("10.00"), 100, "ten") is False
    assert ledger.balance(account_id) == 10_000_000


def test_usage_of_a_redelivered_ledger_object_is_charged_once_at_the_unit_price(ledger, account_id):
    book = CreditBook(ledger)
    book.purchase(account_id, "cs_2", micros("1.00"), 100, "one")
    assert book.charge_usage(account_id, "s3://ledger/a.gz", 300, micros("0.001"), 200) is True
    assert book.charge_usage(account_id, "s3://ledger/a.gz", 300, micros("0.001"), 200) is False
    assert book.charge_usage(account_id, "s3://ledger/b.gz", 0, micros("0.001"), 210) is False  # nothing to take
    assert ledger.balance(account_id) == 700_000


def test_the_balance_is_the_sum_of_the_entries_listed_oldest_first(ledger, account_id):
    for number, (kind, amount) in enumerate(
        [
            (CreditKind.PURCHASE, 5_000_000),
            (CreditKind.USAGE, -1_250_000),
            (CreditKind.REFUND, -2_000_000),
            (CreditKind.ADJUSTMENT, 250_000),
        ]
    ):
        ledger.append(CreditEntry(account_id, f"{kind}#{number}", kind, amount, 1000 + number, "test"))
    entries = ledger.entries(account_id)
    assert [entry.kind for entry in entries] == [
        CreditKind.PURCHASE,
        CreditKind.USAGE,
        CreditKind.REFUND,
        CreditKind.ADJUSTMENT,
    ]
    assert ledger.balance(account_id) == sum(entry.amount for entry in entries) == 2_000_000


def test_an_account_without_entries_has_a_zero_balance(ledger, account_id):
    assert ledger.balance(account_id) == 0 and ledger.entries(account_id) == []


def test_an_amount_finer_than_a_micro_unit_is_refused():
    assert micros("0.000001") == 1
    with pytest.raises(ValueError, match="at most 6 decimal places"):
        micros("0.0000001")
