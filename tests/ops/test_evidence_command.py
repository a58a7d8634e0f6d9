"""Issue 21: `make evidence` (ops/evidence.py) on fakes: the owner gets, for any account, the same CSV
the account page downloads, for its current billing period or for the UTC days asked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ops.evidence import EXIT_FAILED, main
from testkit.fake_metering import call_record, ledger_bytes
from testkit.lambda_events import FUNCTION_ENVIRONMENT
from testkit.metering_on_fakes import usage_environment
from testkit.world import World
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.evidence import COLUMNS
from tollgate.wiring import Wiring

ADA, BOB = "ada@example.com", "bob@example.com"


@pytest.fixture
def world(monkeypatch) -> World:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    world = World.create()
    ada, bob = world.signed_up(ADA), world.signed_up(BOB)
    start = int(world.clock()) - 60
    world.account_billing.invoices[ada.subscription_id] = UpcomingInvoice(4, "usd", start, start + 2_592_000)
    at_ms = int(world.clock() * 1000)
    for key_id, count in ((ada.api_key_id, 4), (bob.api_key_id, 6)):
        world.reporter.report_object(
            world.ledger.put(
                ledger_bytes(
                    [call_record(key_id, at_ms=at_ms + n) for n in range(count)] + [call_record(key_id, status=500)]
                )
            )
        )
    return world


def evidence(world: World, *argv: str) -> tuple[int, bytes]:
    def wiring(config):
        return Wiring(
            config, accounts=world.accounts, account_billing=world.account_billing, usage_evidence=world.evidence
        )

    out = io.BytesIO()
    return main(list(argv), environ=usage_environment(FUNCTION_ENVIRONMENT), out=out, wiring=wiring), out.getvalue()


def test_the_current_period_of_any_account_as_the_account_page_has_it(world: World, capsys) -> None:
    status, output = evidence(world, "--email", " Ada@Example.com ")

    rows = list(csv.reader(io.StringIO(output.decode())))
    assert (
        status == 0
        and rows[0] == list(COLUMNS)
        and len(rows) - 1 == world.meter.units(world.accounts.get(ADA).customer_id) == 4
    )
    assert "4 billed calls of  Ada@Example.com " in capsys.readouterr().err


def test_utc_days_asked_to_a_file(world: World, tmp_path, capsys) -> None:
    day = datetime.fromtimestamp(world.clock(), UTC).date().isoformat()
    target = tmp_path / "bob.csv"

    status, _ = evidence(world, "--email", BOB, "--from", day, "--to", day, "--out", str(target))

    assert status == 0 and len(target.read_text().splitlines()) == 1 + 6
    assert f"written to {target}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--email", "nobody@example.com"), "no account has the email nobody@example.com"),
        (("--email", ADA, "--from", "2026-12-01"), "give both --from and --to"),
        (("--email", ADA, "--from", "2026-12-02", "--to", "2026-12-01"), "give both --from and --to"),
    ],
)
def test_what_cannot_run_says_why_and_exits_2(world: World, capsys, argv, says) -> None:
    status, output = evidence(world, *argv)

    assert (status, output) == (EXIT_FAILED, b"") and says in capsys.readouterr().err
