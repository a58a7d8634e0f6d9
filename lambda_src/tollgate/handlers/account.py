"""The account page's API, on the signup site's own origin (`/api/...` through CloudFront):

- POST /api/link {token}: what an emailed link is for and whose it is, `{kind, email}`, without using
  it: the page shows the address and asks for a click before it posts the token to a confirm route,
  so opening a link (say, one to someone else's account) never signs a browser in by itself;
- POST /api/signin {email}: emails a sign-in link; always the same 202 (tollgate.domain.sessions);
- POST /api/signin/confirm {token}: spends the link and opens a session: the cookie
  contract.SESSION_COOKIE (`__Host-`, Secure, HttpOnly, SameSite=Strict, Path=/, 12 h): no page
  script can read it, no other site can send it, and the token never appears in a body or log;
- GET /api/account: plan, status, why cut off, usage this period, quota left, amount so far, keys;
- POST /api/account/keys/rotate: a new key, its value in this answer only; the old one rotates out;
- POST /api/account/keys/revoke {keyId}: ends a rotated-out key now;
- POST /api/account/billing-portal: a Stripe customer portal URL for the account's customer; 503
  without the portal configuration of `make stripe-setup` (counted: the owner's alarm fires);
- POST /api/account/plan {plan}: change plans, the key stays (tollgate.domain.plan_changes); a plan
  that needs a card answers a Checkout URL first;
- POST /api/account/evidence: the current billing period's billed calls as one CSV file, answered as a
  signed URL valid a few minutes (tollgate.domain.evidence); 409 on an account nothing is billed on;
- POST /api/account/spend {quotaPercents, amounts, cap, noCap}: usage alerts and the spend cap
  (tollgate.domain.spend_choices); the answer is the page's `spend` section as GET shows it;
- POST /api/account/credits {pack}: a Stripe Checkout URL (payment mode) selling one of a prepaid plan's
  credit packs (tollgate.domain.credit_purchases); 409 on any other plan;
- POST /api/signout {everywhere?}: ends this session (or all of the account's) and clears the cookie.

Every POST must be JSON (`require_json`, against cross-site form posts). No session: 401 and the
cookie cleared. Logs carry ids only, never a token, a key value or a cookie.
"""

from __future__ import annotations

from decimal import Decimal
from http.cookies import CookieError, SimpleCookie
from typing import Any

from aws_lambda_powertools.event_handler import Response

from tollgate import contract, wiring
from tollgate.domain.account import Account
from tollgate.domain.account_overview import AccountOverview
from tollgate.domain.api_key_format import key_hint
from tollgate.domain.credit_purchases import CreditView
from tollgate.domain.errors import (
    BillingPortalNotSetUp,
    CreditPurchaseRefused,
    KeyChangeRefused,
    PlanChangeRefused,
    SignedOut,
)
from tollgate.domain.spend_choices import SpendView
from tollgate.domain.validation import (
    parse_credit_pack_request,
    parse_link_token,
    parse_plan_request,
    parse_revoke_request,
    parse_sign_in_request,
    parse_sign_out_request,
)
from tollgate.handlers.http import RETRY_AFTER_SECONDS, HttpFunction, error, raw_body, require_json, respond

function = HttpFunction(
    "tollgate-account",
    downstream_message="We could not finish this because a service we rely on failed; nothing changed. Please try "
    "again in a minute.",
    unavailable_message="Accounts are temporarily unavailable; please try again later.",
)
app, logger = function.router, function.logger
_COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict"
BILLING_PORTAL_NOT_SET_UP = (
    "Billing management is not set up yet: the owner of this service has been alerted. "
    "Please try again later; your key and your plan are not affected."
)


def _session_token() -> str | None:
    cookies = SimpleCookie()
    try:
        cookies.load(app.current_event.headers.get("Cookie") or app.current_event.headers.get("cookie") or "")
    except CookieError:
        return None
    morsel = cookies.get(contract.SESSION_COOKIE)
    return morsel.value if morsel is not None else None


def _session_cookie(token: str, max_age: int) -> str:
    return f"{contract.SESSION_COOKIE}={token}; Max-Age={max_age}; {_COOKIE_ATTRIBUTES}"


def _signed_in() -> Account:
    return wiring.current().sessions.account(_session_token())


def _posted() -> str | bytes | None:
    require_json(app.current_event)
    return raw_body(app.current_event)


@app.post(contract.ROUTE_LINK)
def link() -> Response[str]:
    """Whose link it is, so the page can ask "Continue as ...?" before anything uses it (login CSRF).
    An unknown, expired or used token gets the confirm routes' 410; the holder of a valid one learns
    only the address it was sent to."""
    found = wiring.current().email_links.peek(parse_link_token(_posted()))
    logger.info("Link looked up", extra={"kind": found.purpose.value})
    return respond(200, {"kind": found.purpose.value, "email": found.email})


@app.post(contract.ROUTE_SIGNIN)
def sign_in() -> Response[str]:
    wiring.current().sessions.request_sign_in(parse_sign_in_request(_posted()))
    logger.info("Sign-in requested")  # whether the address has an account, the answer must not tell
    return respond(202, {"status": "link_sent"})


@app.post(contract.ROUTE_SIGNIN_CONFIRM)
def confirm_sign_in() -> Response[str]:
    sessions = wiring.current().sessions
    token, session = sessions.open(parse_link_token(_posted()))
    logger.info("Signed in")
    return respond(
        200,
        {"signedIn": True, "expiresAt": session.expires_at},
        {"Set-Cookie": _session_cookie(token, sessions.session_seconds)},
    )


@app.get(contract.ROUTE_ACCOUNT)
def account() -> Response[str]:
    return respond(200, _overview_body(wiring.current().account_overviews.of(_signed_in())))


@app.post(contract.ROUTE_ACCOUNT_KEY_ROTATE)
def rotate_key() -> Response[str]:
    _posted()
    holder = _signed_in()
    key = wiring.current().account_keys.rotate(holder)
    rotating_out = holder.current_key.id if holder.current_key else None
    logger.info("Key rotated", extra={"keyId": key.id, "rotatingOut": rotating_out, "accountId": holder.account_id})
    return respond(
        201,
        {
            contract.API_KEY_VALUE_FIELD: key.value,
            "keyId": key.id,
            "keyHint": key_hint(key.value),
            "rotatingOut": rotating_out,
            "graceSeconds": wiring.current().account_keys.grace_seconds,
        },
    )


@app.post(contract.ROUTE_ACCOUNT_KEY_REVOKE)
def revoke_key() -> Response[str]:
    key_id = parse_revoke_request(_posted())
    revoked = wiring.current().account_keys.revoke(_signed_in(), key_id)
    logger.info("Key revoked", extra={"keyId": key_id, "accountId": revoked.account_id})
    return respond(200, {"keys": _keys_body(revoked)})


@app.post(contract.ROUTE_ACCOUNT_BILLING_PORTAL)
def billing_portal() -> Response[str]:
    _posted()
    holder = _signed_in()
    if holder.customer_id is None:
        raise KeyChangeRefused("This account has no billing account yet.")
    current = wiring.current()
    url = current.account_billing.portal_url(holder.customer_id, current.account_emails.account_page)
    logger.info("Customer portal opened", extra={"customerId": holder.customer_id})
    return respond(200, {"url": url})


@app.post(contract.ROUTE_ACCOUNT_PLAN)
def change_plan() -> Response[str]:
    plan_id = parse_plan_request(_posted())
    holder = _signed_in()
    current = wiring.current()
    outcome = current.plan_changes.request(
        holder, plan_id, app.current_event.request_context.request_id, current.account_emails.account_page
    )
    logger.info("Plan change", extra={"plan": plan_id, "from": holder.plan_id, "checkout": bool(outcome.checkout_url)})
    if outcome.checkout_url:
        return respond(200, {"checkoutUrl": outcome.checkout_url, "pendingPlan": plan_id})
    return respond(200, {"plan": outcome.account.plan_id})


@app.post(contract.ROUTE_ACCOUNT_EVIDENCE)
def evidence() -> Response[str]:
    _posted()
    download = wiring.current().invoice_evidence.current_period(_signed_in())
    file = download.file
    logger.info(
        "Evidence downloaded", extra={"customerId": file.customer_id, "rows": file.rows, "objects": file.objects}
    )
    return respond(200, {"url": download.url, "rows": file.rows, "period": {"start": file.start, "end": file.end}})


@app.post(contract.ROUTE_ACCOUNT_SPEND)
def spend() -> Response[str]:
    body = _posted()
    current = wiring.current()
    chosen = current.spend_choices.choose(_signed_in(), body)
    logger.info("Spend settings chosen", extra={"accountId": chosen.account_id})
    return respond(200, {"spend": _spend_body(current.spend_choices.view(chosen))})


@app.post(contract.ROUTE_ACCOUNT_CREDITS)
def buy_credits() -> Response[str]:
    pack_id = parse_credit_pack_request(_posted())
    holder = _signed_in()
    current = wiring.current()
    url = current.credit_purchases.start(
        holder, pack_id, app.current_event.request_context.request_id, current.account_emails.account_page
    )
    logger.info("Credit checkout opened", extra={"pack": pack_id, "accountId": holder.account_id})
    return respond(200, {"checkoutUrl": url})


@app.post(contract.ROUTE_SIGNOUT)
def sign_out() -> Response[str]:
    everywhere = parse_sign_out_request(_posted())
    wiring.current().sessions.close(_session_token(), everywhere=everywhere)
    logger.info("Signed out", extra={"everywhere": everywhere})
    return respond(200, {"signedIn": False}, {"Set-Cookie": _session_cookie("", 0)})


@app.exception_handler(SignedOut)
def _signed_out(problem: SignedOut) -> Response[str]:
    logger.info("No session", extra={"reason": str(problem)})
    return error(
        401,
        "You are signed out: enter your email to get a new sign-in link.",
        headers={"Set-Cookie": _session_cookie("", 0)},
    )


@app.exception_handler(BillingPortalNotSetUp)
def _portal_not_set_up(problem: BillingPortalNotSetUp) -> Response[str]:
    """The owner's to fix (`make stripe-setup`): counted for the alarm, and said plainly to the customer."""
    wiring.current().metrics.count(contract.METRIC_BILLING_PORTAL_NOT_SET_UP)
    logger.error("Customer portal not set up: no session opened", extra={"reason": str(problem)})
    return error(503, BILLING_PORTAL_NOT_SET_UP, headers={"Retry-After": RETRY_AFTER_SECONDS})


@app.exception_handler(KeyChangeRefused)
@app.exception_handler(PlanChangeRefused)
@app.exception_handler(CreditPurchaseRefused)
def _refused(problem: KeyChangeRefused | PlanChangeRefused | CreditPurchaseRefused) -> Response[str]:
    logger.info("Account change refused", extra={"reason": str(problem)})
    return error(409, str(problem))


def _keys_body(holder: Account) -> list[dict[str, Any]]:
    current = holder.current_key
    return [
        {
            "id": record.id,
            "hint": record.hint,
            "createdAt": record.created_at,
            "state": record.state.value,
            "until": record.until,
            "current": record == current,
        }
        for record in holder.key_records
    ]


def _overview_body(overview: AccountOverview) -> dict[str, Any]:
    holder, invoice = overview.account, overview.invoice
    return {
        "email": holder.email,
        "firstName": holder.first_name,
        "lastName": holder.last_name,
        "status": holder.status.value,
        "plan": {
            "id": overview.plan.id,
            "name": overview.plan.name,
            "free": overview.plan.is_free,
            "quotaPeriod": overview.plan.quota_period,
        },
        "pendingPlan": holder.pending_plan_id,
        "cutOffReason": holder.cut_off_reason,
        "period": {"start": invoice.period_start, "end": invoice.period_end} if invoice else None,
        "amountDue": {"amount": invoice.amount_due, "currency": invoice.currency} if invoice else None,
        "billableCalls": overview.billable_calls,
        # On a free plan with a subscription ending this period: the upcoming invoice (amountDue, on
        # period.end) bills the calls made on these paid plans before the change.
        "endingSubscription": {"paidPlans": [{"id": plan.id, "name": plan.name} for plan in overview.ending.paid_plans]}
        if overview.ending
        else None,
        "quota": {"left": overview.quota_left, "limit": overview.quota} if overview.quota is not None else None,
        "unavailable": list(overview.unavailable),
        "keys": _keys_body(holder),
        "spend": _spend_body(wiring.current().spend_choices.view(holder)),
        "credits": _credits_body(wiring.current().credit_purchases.view(holder)),
    }


def _credits_body(view: CreditView | None) -> dict[str, Any] | None:
    """A prepaid plan's credit (null on any other plan); amounts in micro-units of `currency` (1,000,000 = one
    unit of it), pack prices in its minor unit (cents), as Stripe charges them."""
    if view is None:
        return None
    return {
        "balance": view.balance,
        "currency": view.currency,
        "unitPrice": view.unit_price,
        "packs": [{"id": pack.id, "credit": pack.credit, "price": pack.price} for pack in view.packs],
        "entries": [
            {"id": entry.entry_id, "kind": entry.kind.value, "amount": entry.amount, "at": entry.at, "note": entry.note}
            for entry in view.entries
        ],
    }


def _spend_body(view: SpendView) -> dict[str, Any]:
    """Amounts as decimal strings in the major unit of `currency` (null: a free plan, or not readable now)."""

    def amount(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "thresholds": [
            {
                "id": threshold.id,
                "kind": threshold.kind.value,
                "value": str(threshold.value),
                "crossed": threshold.id in view.crossed,
            }
            for threshold in view.thresholds
        ],
        "quotaPercentsChosen": view.settings.quota_percents is not None,
        "cap": amount(view.cap),
        "capChosen": amount(view.settings.cap),
        "noCap": view.settings.no_cap,
        "capDefault": amount(view.cap_default),
        "capMax": amount(view.cap_max),
        "currency": view.price.currency if view.price else None,
        "perCall": bool(view.price and view.price.amount),  # amounts and a cap need a per-unit price
        "unavailable": view.unavailable,
        "capReached": view.cap_reached,
    }


handler = function.lambda_handler()
