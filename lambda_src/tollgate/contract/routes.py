"""Routes, headers and addresses: the stage (infra/), the handlers and make dev route by these.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

from tollgate.contract.functions import HANDLER_ACCOUNT, HANDLER_CHECKOUT, HANDLER_REGISTER

# --- Routes -------------------------------------------------------------------------------------
ROUTE_REGISTER = "/register"  # POST, no API key
ROUTE_CHECKOUT = "/billing/checkout"  # POST, no usage-plan key required; the handler checks x-api-key itself
# The stack's name (app.py), the default of `make smoke` and `make deploy-role`, and the outputs the ops
# commands read: the register function (a deployment's settings, by stack name), the API and the site.
STACK_NAME = "Tollgate"
STACK_OUTPUT_REGISTER_FUNCTION = "RegisterFunctionName"
STACK_OUTPUT_API_URL = "ApiUrl"
STACK_OUTPUT_SIGNUP_URL = "SignupUrl"
ROUTE_STRIPE_WEBHOOK = "/stripe/webhook"  # POST, no API key; Stripe-Signature verified by the handler
# POST, no API key: what became of the account of a Checkout session (the page back from Checkout
# holds no key, only the session id Stripe put in its URL); served by the checkout function.
ROUTE_CHECKOUT_OUTCOME = "/billing/checkout/outcome"
PUBLIC_ROUTES = (ROUTE_REGISTER, ROUTE_CHECKOUT, ROUTE_CHECKOUT_OUTCOME, ROUTE_STRIPE_WEBHOOK)
# Everything else (`/` and `/{proxy+}`, any method) is metered: API key required, proxied to the backend.
ROUTE_METERED_PROXY = "/{proxy+}"
METERED_RESOURCE_PATHS = ("/", ROUTE_METERED_PROXY)  # the access log's resourcePath of a metered call
API_KEY_HEADER = "x-api-key"
# The field of a sign-up's (and a key rotation's) answer that holds the new key's value, shown once.
API_KEY_VALUE_FIELD = "apikey"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The sign-up and checkout routes above anyone may call without a usage-plan key: the per-IP WAF
# limit (infra/waf.py) and the browser routes' method throttle (infra/gateway.py) apply to them. Machine
# clients call them on the API; the signup page calls their twins under SITE_API_PREFIX below.
SIGN_UP_ROUTES = (ROUTE_REGISTER, ROUTE_CHECKOUT, ROUTE_CHECKOUT_OUTCOME)

# --- The backend (what metered calls are proxied to) ---------------------------------------------
# Every metered call the stage proxies to an HTTP backend (`backend_url`, or the sample backend's
# function URL) carries BACKEND_SECRET_HEADER with the value of the stack's generated backend
# secret, and the caller's key id (never the key) in BACKEND_API_KEY_ID_HEADER. A backend whose
# URL is public refuses calls without the secret, so nobody skips keys, metering and billing.
BACKEND_SECRET_HEADER = "x-tollgate-origin-verify"
BACKEND_API_KEY_ID_HEADER = "x-tollgate-api-key-id"
# The caller's account (the key authorizer's principal: the opaque account id, never the email), which
# every metered call carries to an HTTP backend: which customer called, whichever of its keys it used.
BACKEND_ACCOUNT_ID_HEADER = "x-tollgate-account-id"
# Letters and digits only: the value travels in an HTTP header and in a static mapping value ('...').
BACKEND_SECRET_LENGTH = 64
# --- Customer accounts: verified sign-up, sign-in by emailed link, the account page -------------
# The account routes live under SITE_API_PREFIX on the REST API and are served on the signup site's
# own origin (CloudFront's `/api/*` behaviour, infra/customer_accounts.py; `make dev`'s site server
# proxies them), so the session cookie is first-party, HttpOnly and SameSite=Strict, with no CORS.
SITE_API_PREFIX = "/api/"
# POST {token}: whose link it is and what for ({kind: "sign-up" | "sign-in", email}), without using it: the
# page shows it and waits for a click before it posts the token to a confirm route (no login CSRF).
ROUTE_LINK = "/api/link"
ROUTE_SIGNUP_CONFIRM = "/api/signup/confirm"  # POST {token}: runs the register flow (register function)
ROUTE_SIGNIN = "/api/signin"  # POST {email}: emails a sign-in link (always the same 202)
ROUTE_SIGNIN_CONFIRM = "/api/signin/confirm"  # POST {token}: opens a session (Set-Cookie)
ROUTE_ACCOUNT = "/api/account"  # GET: the account page's figures (session)
ROUTE_ACCOUNT_KEY_ROTATE = "/api/account/keys/rotate"  # POST: a new key, shown once (session)
ROUTE_ACCOUNT_KEY_REVOKE = "/api/account/keys/revoke"  # POST {keyId}: ends a rotating-out key now (session)
ROUTE_ACCOUNT_BILLING_PORTAL = "/api/account/billing-portal"  # POST: a Stripe customer portal URL (session)
ROUTE_ACCOUNT_PLAN = "/api/account/plan"  # POST {plan}: change plans, the key stays (session)
# POST: the current billing period's evidence as one CSV, by a short-lived signed URL (session)
ROUTE_ACCOUNT_EVIDENCE = "/api/account/evidence"
# POST {quotaPercents, amounts, cap, noCap}: usage alerts and the spend cap (session; tollgate.domain.spend_choices)
ROUTE_ACCOUNT_SPEND = "/api/account/spend"
# POST {pack}: a Stripe Checkout URL (payment mode) selling a prepaid plan's credit pack (session;
# tollgate.domain.credit_purchases)
ROUTE_ACCOUNT_CREDITS = "/api/account/credits"
ROUTE_SIGNOUT = "/api/signout"  # POST {everywhere?}: ends this session (or every session of the account)
# The sign-up and checkout routes on the site's own origin: the same functions as ROUTE_REGISTER,
# ROUTE_CHECKOUT and ROUTE_CHECKOUT_OUTCOME, with the same request and answer, so the signup page calls
# only its own origin (no CORS; the API keeps the originals for machine clients).
ROUTE_SITE_REGISTER = "/api/register"
ROUTE_SITE_CHECKOUT = "/api/billing/checkout"
ROUTE_SITE_CHECKOUT_OUTCOME = "/api/billing/checkout/outcome"
SITE_TWIN_OF_ROUTE = dict(
    zip(SIGN_UP_ROUTES, (ROUTE_SITE_REGISTER, ROUTE_SITE_CHECKOUT, ROUTE_SITE_CHECKOUT_OUTCOME), strict=True)
)
# Route -> HTTP method, for the stage (infra/gateway.py), `make dev` (localdev) and WAF (infra/waf.py).
SITE_ROUTES = {
    ROUTE_SITE_REGISTER: "POST",
    ROUTE_SITE_CHECKOUT: "POST",
    ROUTE_SITE_CHECKOUT_OUTCOME: "POST",
    ROUTE_LINK: "POST",
    ROUTE_SIGNUP_CONFIRM: "POST",
    ROUTE_SIGNIN: "POST",
    ROUTE_SIGNIN_CONFIRM: "POST",
    ROUTE_ACCOUNT: "GET",
    ROUTE_ACCOUNT_KEY_ROTATE: "POST",
    ROUTE_ACCOUNT_KEY_REVOKE: "POST",
    ROUTE_ACCOUNT_BILLING_PORTAL: "POST",
    ROUTE_ACCOUNT_PLAN: "POST",
    ROUTE_ACCOUNT_EVIDENCE: "POST",
    ROUTE_ACCOUNT_SPEND: "POST",
    ROUTE_ACCOUNT_CREDITS: "POST",
    ROUTE_SIGNOUT: "POST",
}
# The site routes anyone may call without a session: WAF limits them per viewer IP like /register.
SITE_ROUTES_WITHOUT_SESSION = (
    ROUTE_SITE_REGISTER,
    ROUTE_SITE_CHECKOUT,
    ROUTE_SITE_CHECKOUT_OUTCOME,
    ROUTE_LINK,
    ROUTE_SIGNUP_CONFIRM,
    ROUTE_SIGNIN,
    ROUTE_SIGNIN_CONFIRM,
)
# The account page's address on the signup site (links in emails, the portal's way back) and the
# file behind it: CloudFront and make dev's site server serve `/account` from `account.html`
# (infra/site_delivery.py PAGE_ROUTES).
ACCOUNT_PAGE = "account"
ACCOUNT_PAGE_FILE = "account.html"
# The function serving each site route, by handler (the stage and `make dev` route by it): the sign-up
# routes run the register and checkout functions, as their twins on the API do; the rest, the account's.
_SITE_ROUTES_NOT_THE_ACCOUNTS = {
    ROUTE_SITE_REGISTER: HANDLER_REGISTER,
    ROUTE_SIGNUP_CONFIRM: HANDLER_REGISTER,
    ROUTE_SITE_CHECKOUT: HANDLER_CHECKOUT,
    ROUTE_SITE_CHECKOUT_OUTCOME: HANDLER_CHECKOUT,
}
SITE_ROUTE_HANDLERS = {route: _SITE_ROUTES_NOT_THE_ACCOUNTS.get(route, HANDLER_ACCOUNT) for route in SITE_ROUTES}
# `__Host-`: the browser keeps it only if Secure, Path=/ and without Domain (RFC 6265bis, cookie prefixes).
SESSION_COOKIE = "__Host-tollgate-session"
SESSION_SECONDS = 12 * 3600
# CloudFront's `/api/*` behaviour sets these on every request it forwards: the viewer's own IP (a
# CloudFront Function overwrites whatever the client sent), which WAF counts per-IP limits on, and a
# generated secret, without which WAF refuses `/api/*` (so nobody skips CloudFront to forge the IP).
VIEWER_IP_HEADER = "x-tollgate-viewer-ip"
SITE_ORIGIN_SECRET_HEADER = "x-tollgate-site-origin-verify"
