"""The account function's evidence download on fakes (issue 21): a signed-in customer gets a short-lived
URL to one CSV of the current billing period's billed calls; nothing billed, or no evidence kept,
is said plainly; signed out is 401."""

from __future__ import annotations

import json

import pytest

from testkit.account_settings import accounts_environment
from testkit.fake_metering import call_record, ledger_bytes
from testkit.fake_wiring import deployed_on_fakes, deployed_with_accounts
from testkit.lambda_events import FUNCTION_ENVIRONMENT, DeployedFunction, api_gateway_event, invoke
from testkit.metering_on_fakes import usage_environment
from testkit.world import World
from tollgate import contract
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.evidence import NO_BILLING_PERIOD, NOT_KEPT

ADA, BOB = "ada@example.com", "bob@example.com"
ACCOUNT_MODULE = "tollgate.handlers.account"


@pytest.fixture
def fakes() -> World:
    return World.create()


def deployed_reporting_usage(fakes: World) -> DeployedFunction:
    """The account function of a deployment whose own reporter bills usage (usage_reporter=tollgate)."""
    return deployed_on_fakes(
        ACCOUNT_MODULE,
        fakes.ports,
        usage_environment(accounts_environment(FUNCTION_ENVIRONMENT)),
        customer_access=fakes.access,
        mailer=fakes.mailer,
        account_billing=fakes.account_billing,
        usage_plan_usage=fakes.plan_usage,
        usage_evidence=fakes.evidence,
        usage_meter=fakes.meter,
        usage_reports=fakes.reports,
    )


def post(function: DeployedFunction, path: str, body: dict | None = None, cookie: str | None = None):
    headers = {
        "Content-Type": "application/json",
        **({"Cookie": f"{contract.SESSION_COOKIE}={cookie}"} if cookie else {}),
    }
    return invoke(function, api_gateway_event(json.dumps(body or {}), method="POST", path=path, headers=headers))


def session(function: DeployedFunction, fakes: World, email: str) -> str:
    assert post(function, contract.ROUTE_SIGNIN, {"email": email})[0] == 202
    _, headers, _ = post(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": fakes.mailer.last_token(email)})
    return headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def test_the_current_periods_billed_calls_download_by_a_short_lived_url(fakes: World) -> None:
    function = deployed_reporting_usage(fakes)
    ada, bob = fakes.signed_up(ADA), fakes.signed_up(BOB)
    start = int(fakes.clock()) - 60
    fakes.account_billing.invoices[ada.subscription_id] = UpcomingInvoice(5, "usd", start, start + 2_592_000)
    at_ms = int(fakes.clock() * 1000)
    for key_id, count in ((ada.api_key_id, 5), (bob.api_key_id, 9)):
        fakes.reporter.report_object(
            fakes.ledger.put(
                ledger_bytes(
                    [call_record(key_id, at_ms=at_ms + n) for n in range(count)] + [call_record(key_id, status=404)]
                )
            )
        )

    status, _, body = post(function, contract.ROUTE_ACCOUNT_EVIDENCE, cookie=session(function, fakes, ADA))

    assert status == 200
    assert (body["rows"], body["period"]) == (5, {"start": start, "end": start + 2_592_000})
    assert f"{contract.USAGE_EVIDENCE_DOWNLOADS_PREFIX}{ada.customer_id}/" in body["url"]
    assert f"X-Amz-Expires={contract.USAGE_EVIDENCE_URL_SECONDS}" in body["url"]


def test_an_account_on_a_free_plan_is_told_nothing_is_billed(fakes: World) -> None:
    function = deployed_reporting_usage(fakes)
    fakes.signed_up(ADA, plan_id="free")

    status, _, body = post(function, contract.ROUTE_ACCOUNT_EVIDENCE, cookie=session(function, fakes, ADA))

    assert (status, body["error"]) == (409, NO_BILLING_PERIOD)


def test_a_deployment_billing_through_moesif_keeps_no_evidence_and_says_so(fakes: World) -> None:
    function = deployed_with_accounts(ACCOUNT_MODULE, fakes)
    fakes.signed_up(ADA)

    status, _, body = post(function, contract.ROUTE_ACCOUNT_EVIDENCE, cookie=session(function, fakes, ADA))

    assert (status, body["error"]) == (409, NOT_KEPT)


def test_signed_out_is_401(fakes: World) -> None:
    assert post(deployed_reporting_usage(fakes), contract.ROUTE_ACCOUNT_EVIDENCE)[0] == 401
