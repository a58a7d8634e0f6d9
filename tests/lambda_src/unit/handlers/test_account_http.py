"""The account function's HTTP contract on fakes: the session cookie's flags, JSON-only state
changes, 401 with the cookie cleared, the same 202 for every address, a key shown once, a link
looked up without being used, the portal refused (and counted) without Tollgate's configuration,
and logs that never carry a token, a cookie or a key value."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from testkit.fake_ports import TEST_PLANS
from testkit.fake_wiring import deployed_with_accounts
from testkit.lambda_events import SIGNUP_ORIGIN, DeployedFunction, api_gateway_event, invoke
from testkit.world import World
from tollgate import contract
from tollgate.domain.billing_state import UpcomingInvoice
from tollgate.domain.customer_access import token_hash
from tollgate.domain.errors import ConcurrentUpdate
from tollgate.domain.models import Registrant
from tollgate.handlers.account import BILLING_PORTAL_NOT_SET_UP

ADA = "ada@example.com"
ACCOUNT_MODULE = "tollgate.handlers.account"
COOKIE_FLAGS = "Path=/; Secure; HttpOnly; SameSite=Strict"


@pytest.fixture
def world(world: World) -> World:
    """Ada has signed up; her next invoice is known."""
    account = world.signed_up(ADA)
    world.account_billing.invoices[account.subscription_id] = UpcomingInvoice(70, "usd", 1_800_000_000, 1_802_592_000)
    return world


@pytest.fixture
def function(world: World) -> DeployedFunction:
    return deployed_with_accounts(ACCOUNT_MODULE, world)


def call(
    function: DeployedFunction,
    path: str,
    body: dict | None = None,
    *,
    cookie: str | None = None,
    method: str = "POST",
    content_type: str = "application/json",
):
    headers = {"Content-Type": content_type, **({"Cookie": f"{contract.SESSION_COOKIE}={cookie}"} if cookie else {})}
    return invoke(
        function,
        api_gateway_event(None if body is None else json.dumps(body), method=method, path=path, headers=headers),
    )


def signed_in(function: DeployedFunction, world: World) -> tuple[str, dict[str, str]]:
    assert call(function, contract.ROUTE_SIGNIN, {"email": ADA})[0] == 202
    status, headers, body = call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": world.mailer.last_token(ADA)})
    assert status == 200 and body["signedIn"] is True
    return headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1], headers


def test_the_session_cookie_is_host_only_secure_httponly_strict_for_12_hours(
    function: DeployedFunction, world: World
) -> None:
    session, headers = signed_in(function, world)
    assert headers["Set-Cookie"] == f"{contract.SESSION_COOKIE}={session}; Max-Age=43200; {COOKIE_FLAGS}"
    assert headers["Cache-Control"] == "no-store"
    assert len(session) == 43


def test_sign_in_answers_the_same_for_any_address(function: DeployedFunction) -> None:
    known = call(function, contract.ROUTE_SIGNIN, {"email": ADA})
    unknown = call(function, contract.ROUTE_SIGNIN, {"email": "nobody@example.com"})
    assert known[0] == unknown[0] == 202 and known[2] == unknown[2] == {"status": "link_sent"}


@pytest.mark.parametrize(
    "path",
    [
        contract.ROUTE_LINK,
        contract.ROUTE_SIGNIN,
        contract.ROUTE_SIGNIN_CONFIRM,
        contract.ROUTE_SIGNOUT,
        contract.ROUTE_ACCOUNT_KEY_ROTATE,
        contract.ROUTE_ACCOUNT_BILLING_PORTAL,
        contract.ROUTE_ACCOUNT_PLAN,
    ],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_a_state_change_must_be_json_so_no_other_site_can_post_a_form(
    function: DeployedFunction, world: World, path: str, content_type: str
) -> None:
    session, _ = signed_in(function, world)
    status, _, body = call(function, path, {"email": ADA}, cookie=session, content_type=content_type)
    assert status == 400 and body["fields"] == {"Content-Type": "must be application/json"}
    assert len(world.ports.api_keys.keys) == 1


def test_a_sign_in_link_is_named_with_its_address_and_signs_nobody_in_until_it_is_posted_to_confirm(
    function: DeployedFunction, world: World
) -> None:
    call(function, contract.ROUTE_SIGNIN, {"email": ADA})
    token = world.mailer.last_token(ADA)

    for _ in range(2):  # looked up as often as the page is opened: nothing is used up
        status, headers, body = call(function, contract.ROUTE_LINK, {"token": token})
        assert (status, body) == (200, {"kind": "sign-in", "email": ADA})
        assert "Set-Cookie" not in headers and headers["Cache-Control"] == "no-store"
    assert world.access.sessions == {} and token_hash(token) in world.access.links

    assert call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": token})[0] == 200  # the click


def test_a_sign_up_link_is_named_with_its_address_and_creates_nothing(function: DeployedFunction, world: World) -> None:
    world.sign_up.request(Registrant("grace@example.com", "Grace", "Hopper"))
    token = world.mailer.last_token("grace@example.com")
    keys_before = dict(world.ports.api_keys.keys)

    status, _, body = call(function, contract.ROUTE_LINK, {"token": token})

    assert (status, body) == (200, {"kind": "sign-up", "email": "grace@example.com"})
    assert world.ports.accounts.get("grace@example.com") is None and world.ports.api_keys.keys == keys_before
    assert world.sign_up.confirm(token).status.value == "active"  # still good for the click


def _unknown(function: DeployedFunction, world: World, token: str) -> str:
    return "A" * 43


def _expired(function: DeployedFunction, world: World, token: str) -> str:
    link = world.access.links[token_hash(token)]
    world.access.links[link.token_hash] = dataclasses.replace(link, expires_at=int(time.time()) - 1)
    return token


def _used(function: DeployedFunction, world: World, token: str) -> str:
    assert call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": token})[0] == 200
    return token


@pytest.mark.parametrize("spoil", [_unknown, _expired, _used])
def test_an_unknown_expired_or_used_link_gets_the_confirm_routes_410(
    function: DeployedFunction, world: World, spoil
) -> None:
    call(function, contract.ROUTE_SIGNIN, {"email": ADA})
    token = spoil(function, world, world.mailer.last_token(ADA))

    looked_up = call(function, contract.ROUTE_LINK, {"token": token})
    confirmed = call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": token})

    assert looked_up[0] == confirmed[0] == 410 and looked_up[2] == confirmed[2]
    assert ADA not in json.dumps(looked_up[2])


def test_the_account_page_figures(function: DeployedFunction, world: World) -> None:
    session, _ = signed_in(function, world)
    status, _, body = call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)
    account = world.ports.accounts.get(ADA)
    assert status == 200
    assert body["email"] == ADA and body["status"] == "active" and body["cutOffReason"] is None
    assert body["amountDue"] == {"amount": 70, "currency": "usd"}
    assert body["period"] == {"start": 1_800_000_000, "end": 1_802_592_000}
    assert body["quota"] == {"left": TEST_PLANS.default.quota_limit, "limit": TEST_PLANS.default.quota_limit}
    assert body["billableCalls"] is None and body["unavailable"] == ["usage"]  # no usage reports here
    assert body["endingSubscription"] is None
    assert body["keys"] == [
        {
            "id": account.current_key.id,
            "hint": account.current_key.hint,
            "createdAt": account.created_at,
            "state": "active",
            "until": None,
            "current": True,
        }
    ]
    assert world.ports.api_keys.keys[account.api_key_id]["value"] not in json.dumps(body)
    assert account.api_key_id not in json.dumps(body)  # the usage key is never the customer's business


@pytest.mark.parametrize("cookie", [None, "made-up-session-token-0000000000000000000000"])
def test_without_a_session_the_answer_is_401_and_the_cookie_is_cleared(
    function: DeployedFunction, cookie: str | None
) -> None:
    status, headers, body = call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=cookie)
    assert status == 401 and "sign-in link" in body["error"]
    assert headers["Set-Cookie"] == f"{contract.SESSION_COOKIE}=; Max-Age=0; {COOKIE_FLAGS}"


def test_rotate_shows_the_new_key_once_then_revoke_ends_the_old_one(function: DeployedFunction, world: World) -> None:
    session, _ = signed_in(function, world)
    old = world.ports.accounts.get(ADA).current_key.id
    status, headers, rotated = call(function, contract.ROUTE_ACCOUNT_KEY_ROTATE, {}, cookie=session)
    assert status == 201 and rotated["rotatingOut"] == old and headers["Cache-Control"] == "no-store"
    assert world.ports.can_call(rotated["apikey"]) and rotated["keyHint"] == rotated["apikey"][-4:]
    page = call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)[2]
    assert [(key["id"], key["state"], key["current"]) for key in page["keys"]] == [
        (old, "rotating_out", False),
        (rotated["keyId"], "active", True),
    ]
    assert rotated["apikey"] not in json.dumps(page)

    status, _, body = call(function, contract.ROUTE_ACCOUNT_KEY_REVOKE, {"keyId": rotated["keyId"]}, cookie=session)
    assert status == 409 and "rotate first" in body["error"]
    status, _, body = call(function, contract.ROUTE_ACCOUNT_KEY_REVOKE, {"keyId": old}, cookie=session)
    assert status == 200 and [key["state"] for key in body["keys"]] == ["revoked", "active"]
    assert not world.ports.can_call(world.issued[ADA]) and world.ports.can_call(rotated["apikey"])


def test_manage_billing_opens_a_portal_session_for_the_accounts_own_customer(
    function: DeployedFunction, world: World
) -> None:
    session, _ = signed_in(function, world)
    status, _, body = call(function, contract.ROUTE_ACCOUNT_BILLING_PORTAL, {}, cookie=session)
    assert status == 200 and body["url"].startswith("https://billing.stripe.test/")
    assert world.account_billing.portal_sessions == [
        (world.ports.accounts.get(ADA).customer_id, f"{SIGNUP_ORIGIN}/{contract.ACCOUNT_PAGE}")
    ]


def test_without_tollgates_portal_configuration_manage_billing_says_so_opens_nothing_and_counts_it(
    function: DeployedFunction, world: World
) -> None:
    session, _ = signed_in(function, world)
    world.account_billing.portal_set_up = False

    status, headers, body = call(function, contract.ROUTE_ACCOUNT_BILLING_PORTAL, {}, cookie=session)

    assert (status, body) == (503, {"error": BILLING_PORTAL_NOT_SET_UP, "fields": {}})
    assert body["error"].startswith("Billing management is not set up yet: the owner") and "Retry-After" in headers
    assert world.account_billing.portal_sessions == []
    assert world.ports.metrics.total(contract.METRIC_BILLING_PORTAL_NOT_SET_UP) == 1


def test_sign_out_ends_the_session_and_everywhere_ends_the_others(function: DeployedFunction, world: World) -> None:
    phone, _ = signed_in(function, world)
    world.clock.advance(3600)
    status, headers, _ = call(function, contract.ROUTE_SIGNOUT, {}, cookie=phone)
    assert status == 200 and headers["Set-Cookie"].startswith(f"{contract.SESSION_COOKIE}=; Max-Age=0")
    assert call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=phone)[0] == 401
    laptop, _ = signed_in(function, world)
    assert call(function, contract.ROUTE_SIGNOUT, {"everywhere": True}, cookie=laptop)[0] == 200
    assert world.access.sessions == {}


def test_a_used_or_forged_sign_in_token_gets_410(function: DeployedFunction, world: World) -> None:
    call(function, contract.ROUTE_SIGNIN, {"email": ADA})
    token = world.mailer.last_token(ADA)
    assert call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": token})[0] == 200
    status, headers, body = call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": token})
    assert status == 410 and "ask for a new one" in body["error"] and "Set-Cookie" not in headers
    assert call(function, contract.ROUTE_SIGNIN_CONFIRM, {"token": "A" * 43})[0] == 410


def test_the_logs_never_carry_a_token_a_cookie_or_a_key(function: DeployedFunction, world: World) -> None:
    with function.captured_logs() as logs:
        call(function, contract.ROUTE_SIGNIN, {"email": ADA})
        looked_up = world.mailer.last_token(ADA)
        call(function, contract.ROUTE_LINK, {"token": looked_up})
        session, _ = signed_in(function, world)
        rotated = call(function, contract.ROUTE_ACCOUNT_KEY_ROTATE, {}, cookie=session)[2]
        call(function, contract.ROUTE_SIGNOUT, {}, cookie=session)
    written = logs.getvalue()
    assert "Key rotated" in written and "Link looked up" in written
    link_token = world.mailer.last_token(ADA)
    for secret in (session, rotated["apikey"], link_token, looked_up):
        assert secret not in written


def test_a_plan_change_keeps_the_key_and_the_page_shows_the_new_plan(function: DeployedFunction, world: World) -> None:
    """Issue 13, through the account API: standard -> free (no card needed), the key stays."""
    session, _ = signed_in(function, world)
    account = world.ports.accounts.get(ADA)
    key_id, usage_key_id = account.current_key.id, account.api_key_id

    status, _, body = call(function, contract.ROUTE_ACCOUNT_PLAN, {"plan": "free"}, cookie=session)

    assert (status, body) == (200, {"plan": "free"})
    page = call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)[2]
    assert page["plan"] == {"id": "free", "name": "Free", "free": True, "quotaPeriod": "MONTH"}
    assert page["keys"][0]["id"] == key_id
    assert world.ports.api_keys.plan[usage_key_id] == TEST_PLANS.get("free").usage_plan_id


def test_after_a_change_from_paid_to_free_the_page_gets_what_stripe_still_bills_and_for_which_plan(
    function: DeployedFunction, world: World
) -> None:
    """Standard -> free in the period: the subscription ends with the period, its final invoice (the
    upcoming one) bills the calls made on Standard; the page gets the amount, the date and the plan."""
    session, _ = signed_in(function, world)
    subscription_id = world.ports.accounts.get(ADA).subscription_id
    period = {"start": int(world.clock()) - 86_400, "end": int(world.clock()) + 29 * 86_400}
    world.account_billing.invoices[subscription_id] = UpcomingInvoice(1_234, "usd", period["start"], period["end"])

    changed = call(function, contract.ROUTE_ACCOUNT_PLAN, {"plan": "free"}, cookie=session)
    assert (changed[0], changed[2]) == (200, {"plan": "free"})

    status, _, page = call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)
    assert status == 200 and page["plan"]["free"] is True
    assert page["endingSubscription"] == {"paidPlans": [{"id": "standard", "name": "Standard"}]}
    assert (page["amountDue"], page["period"]) == ({"amount": 1_234, "currency": "usd"}, period)


def test_a_plan_that_needs_a_card_answers_a_checkout_url_back_to_the_account_page(
    function: DeployedFunction, world: World
) -> None:
    session, _ = signed_in(function, world)

    status, _, body = call(function, contract.ROUTE_ACCOUNT_PLAN, {"plan": "pro"}, cookie=session)

    assert (
        status == 200
        and body["checkoutUrl"].startswith("https://checkout.stripe.test/")
        and body["pendingPlan"] == "pro"
    )
    assert call(function, contract.ROUTE_ACCOUNT, method="GET", cookie=session)[2]["pendingPlan"] == "pro"


@pytest.mark.parametrize(
    ("plan", "status", "message"),
    [
        ("standard", 409, "This account is on the Standard plan already."),
        ("gold", 409, "no plan 'gold'; choose one of: standard, free, pro."),
        ("Gold!", 400, "The field 'plan' must be the id of one of the plans on offer."),
    ],
)
def test_a_plan_change_that_cannot_be_made_says_why(
    function: DeployedFunction, world: World, plan: str, status: int, message: str
) -> None:
    session, _ = signed_in(function, world)
    answer = call(function, contract.ROUTE_ACCOUNT_PLAN, {"plan": plan}, cookie=session)
    assert (answer[0], answer[2]["error"]) == (status, message)


def test_an_account_that_keeps_changing_meanwhile_answers_409_with_nothing_half_done(
    function: DeployedFunction, world: World
) -> None:
    session, _ = signed_in(function, world)
    world.accounts.fail("update", times=None, error=ConcurrentUpdate("another writer got there first"))

    status, headers, body = call(function, contract.ROUTE_ACCOUNT_PLAN, {"plan": "free"}, cookie=session)

    assert status == 409 and "Reload the page and try again" in body["error"] and headers["Retry-After"] == "1"
    assert world.accounts.get(ADA).plan_id == "standard" and world.billing.call_count("end_at_period_end") == 0
