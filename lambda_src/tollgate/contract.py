"""Facts shared by the stack, the Lambda code and the local dev harness.

One source of truth: the stack (infra/) writes these names into the deployed resources, the
runtime (tollgate/) reads them back, and localdev/ reproduces them. Plain data, no imports, so
every side can use it without pulling in CDK or an SDK.
"""

# --- Secrets Manager: two JSON secrets and their field names ---------------------------------
# Two, so that each reader holds only what it needs: Firehose reads the Moesif application id and
# must never be able to read a Stripe key.
# The Stripe secret: read by the functions only.
SECRET_FIELD_STRIPE_SECRET_KEY = "stripe_secret_key"
SECRET_FIELD_STRIPE_WEBHOOK_SECRET = "stripe_webhook_secret"
STRIPE_SECRET_FIELDS = (SECRET_FIELD_STRIPE_SECRET_KEY, SECRET_FIELD_STRIPE_WEBHOOK_SECRET)
# The Moesif secret: read by Firehose and by the register function (Moesif users and companies).
# Firehose's HTTP-endpoint Secrets Manager integration reads the access key from the field
# `api_key` and nothing else, so the Moesif application id has to live under that name.
SECRET_FIELD_MOESIF_APPLICATION_ID = "api_key"
MOESIF_SECRET_FIELDS = (SECRET_FIELD_MOESIF_APPLICATION_ID,)
# Value the stack puts in every field of a freshly created secret; the runtime refuses to use it.
SECRET_PLACEHOLDER = "REPLACE_ME"

# --- Environment variables the stack sets on the functions ------------------------------------
ENV_STRIPE_SECRET_ARN = "TOLLGATE_STRIPE_SECRET_ARN"
ENV_MOESIF_SECRET_ARN = "TOLLGATE_MOESIF_SECRET_ARN"
ENV_ACCOUNTS_TABLE = "TOLLGATE_ACCOUNTS_TABLE"
ENV_IDEMPOTENCY_TABLE = "TOLLGATE_IDEMPOTENCY_TABLE"
ENV_KEY_OWNER = "TOLLGATE_KEY_OWNER"  # this deployment's value of API_KEY_OWNER_TAG, e.g. Tollgate/prod
# The plans sold (tollgate.plans.PlanCatalog.to_json): usage plan, price, card rule of each.
ENV_PLANS = "TOLLGATE_PLANS"
ENV_SIGNUP_URL = "TOLLGATE_SIGNUP_URL"  # Checkout success/cancel pages live here
# Usage metering (set only with usage_reporter=tollgate; see the "Usage metering" section below).
ENV_USAGE_LEDGER_BUCKET = "TOLLGATE_USAGE_LEDGER_BUCKET"
ENV_USAGE_REPORTS_TABLE = "TOLLGATE_USAGE_REPORTS_TABLE"
ENV_USAGE_DEAD_LETTER_QUEUE_URL = "TOLLGATE_USAGE_DEAD_LETTER_QUEUE_URL"
ENV_BILLABLE_STATUSES = "TOLLGATE_BILLABLE_STATUSES"  # e.g. "2xx" or "2xx,304"
# Optional overrides: unset in a deployed stack (the SDK defaults apply); the local dev harness
# and the tests point them at the emulators. AWS itself is redirected with boto3's standard
# AWS_ENDPOINT_URL, so no Tollgate-specific variable exists for it.
ENV_STRIPE_API_BASE = "TOLLGATE_STRIPE_API_BASE"
ENV_MOESIF_API_BASE = "TOLLGATE_MOESIF_API_BASE"

# --- Lambda entry points (module.function inside lambda_src/) ---------------------------------
HANDLER_REGISTER = "tollgate.handlers.register.handler"
HANDLER_CHECKOUT = "tollgate.handlers.checkout.handler"
HANDLER_STRIPE_WEBHOOK = "tollgate.handlers.stripe_webhook.handler"
HANDLER_SAMPLE_BACKEND = "tollgate.handlers.sample_backend.handler"
HANDLER_USAGE_REPORTER = "tollgate.handlers.usage_reporter.handler"
HANDLER_RECONCILER = "tollgate.handlers.reconciler.handler"
# The reconciler stops taking new work well before this (tollgate.handlers.reconciler) and resumes
# from its cursor next run; shorter than the shortest interval, so two runs never overlap.
RECONCILER_TIMEOUT_SECONDS = 300
RECONCILER_LAST_RUN_KEY = "reconciler#last-run"  # the accounts-table item holding its latest run (no '@')
# API Gateway gives up on an integration after 29 s; the register flow, its rollback included,
# must finish inside this (the adapters' per-call budgets are checked against it by a test).
REGISTER_TIMEOUT_SECONDS = 28

# A retried sign-up (same Idempotency-Key and body) gets its first answer again, key value included,
# only this long: anyone holding the request could otherwise read the key for a day. After it, the
# same request answers 409 (the email has an account) without the key.
SIGN_UP_REPLAY_SECONDS = 600

# --- Routes -------------------------------------------------------------------------------------
ROUTE_REGISTER = "/register"  # POST, no API key
ROUTE_CHECKOUT = "/billing/checkout"  # POST, no usage-plan key required; the handler checks x-api-key itself
# The stack output naming the register function: ops commands find a deployment by stack name through it.
STACK_OUTPUT_REGISTER_FUNCTION = "RegisterFunctionName"
ROUTE_STRIPE_WEBHOOK = "/stripe/webhook"  # POST, no API key; Stripe-Signature verified by the handler
# POST, no API key: what became of the account of a Checkout session (the page back from Checkout
# holds no key, only the session id Stripe put in its URL); served by the checkout function.
ROUTE_CHECKOUT_OUTCOME = "/billing/checkout/outcome"
PUBLIC_ROUTES = (ROUTE_REGISTER, ROUTE_CHECKOUT, ROUTE_CHECKOUT_OUTCOME, ROUTE_STRIPE_WEBHOOK)
# Everything else (`/` and `/{proxy+}`, any method) is metered: API key required, proxied to the backend.
ROUTE_METERED_PROXY = "/{proxy+}"
METERED_RESOURCE_PATHS = ("/", ROUTE_METERED_PROXY)  # the access log's resourcePath of a metered call
API_KEY_HEADER = "x-api-key"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The sign-up and checkout routes above anyone may call without a usage-plan key: the per-IP WAF
# limit (infra/waf.py) and the browser routes' method throttle (infra/api.py) apply to them. Machine
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
ENV_BACKEND_SECRET_ARN = "TOLLGATE_BACKEND_SECRET_ARN"  # the sample backend reads the values it accepts
# Letters and digits only: the value travels in an HTTP header and in a static mapping value ('...').
BACKEND_SECRET_LENGTH = 64

# --- API keys ------------------------------------------------------------------------------------
# Every key a deployment creates carries this tag, valued with the deployment's name (stack/stage).
# The functions may read, enable, disable or delete only keys that carry it, and create keys only
# with it (IAM conditions, infra/api_key_access.py); operators' orphan searches look at it too, so
# two deployments in one region never touch each other's keys.
API_KEY_OWNER_TAG = "tollgate:deployment"

# --- Accounts table -----------------------------------------------------------------------------
ACCOUNTS_PARTITION_KEY = "email"  # normalised email: one account per email
ACCOUNTS_INDEX_BY_API_KEY_ID = "byApiKeyId"  # partition key attribute: apiKeyId
ACCOUNTS_INDEX_BY_SUBSCRIPTION_ID = "bySubscriptionId"  # partition key attribute: subscriptionId
ACCOUNTS_INDEX_BY_CUSTOMER_ID = "byCustomerId"  # partition key attribute: customerId
ACCOUNTS_ATTR_API_KEY_ID = "apiKeyId"
ACCOUNTS_ATTR_SUBSCRIPTION_ID = "subscriptionId"
ACCOUNTS_ATTR_CUSTOMER_ID = "customerId"
# A sparse index of the accounts the reconciler must look at again whatever Stripe's listings say:
# they owe an open invoice, or a plan change was asked of Stripe and not recorded as done
# (`followUpSince`, epoch seconds, written with the row only while one of those holds:
# tollgate.domain.account.Account.follow_up_since). The reconciler scans it, reading those rows only.
ACCOUNTS_INDEX_FOLLOW_UP = "followUp"
ACCOUNTS_ATTR_FOLLOW_UP_SINCE = "followUpSince"
# Every global secondary index of the accounts table: (index name, its partition key, the key's
# DynamoDB type "S" or "N"); projection ALL. The stack (infra/data.py) and `make dev`
# (localdev/bootstrap.py) both build them from this.
ACCOUNTS_INDEXES = (
    (ACCOUNTS_INDEX_BY_API_KEY_ID, ACCOUNTS_ATTR_API_KEY_ID, "S"),
    (ACCOUNTS_INDEX_BY_SUBSCRIPTION_ID, ACCOUNTS_ATTR_SUBSCRIPTION_ID, "S"),
    (ACCOUNTS_INDEX_BY_CUSTOMER_ID, ACCOUNTS_ATTR_CUSTOMER_ID, "S"),
    (ACCOUNTS_INDEX_FOLLOW_UP, ACCOUNTS_ATTR_FOLLOW_UP_SINCE, "N"),
)
ACCOUNTS_TTL_ATTRIBUTE = "expiresAt"  # only set on short-lived bookkeeping items (e.g. seen Stripe event ids)

# --- Keys table: the Tollgate keys customers hold, stored only as their SHA-256 (issue 20) --------
# One item per key, read by the authorizer in ONE GetItem (so the account's status, plan and usage key
# are copied onto it by the writers of the account row: tollgate.domain.key_enforcement). Attribute
# names are the item's own (snake_case), shared by the runtime, the authorizer, the stack and `make dev`.
ENV_KEYS_TABLE = "TOLLGATE_KEYS_TABLE"
ENV_KEY_PREFIX = "TOLLGATE_KEY_PREFIX"  # tollgate.domain.api_key_format's prefix (setting key_prefix)
DEFAULT_KEY_PREFIX = "tgk"
KEYS_PARTITION_KEY = "key_hash"  # S: hex SHA-256 of the key
KEYS_ATTR_KEY_ID = "key_id"  # S: key_hash[:KEY_ID_LENGTH], the key's public name (account page, revoke)
KEYS_ATTR_HINT = "hint"  # S: the key's last four characters
KEYS_ATTR_ACCOUNT = "account"  # S: the accounts-table key (ACCOUNTS_PARTITION_KEY) of the owning row
KEYS_ATTR_ACCOUNT_ID = "account_id"  # S: the account's opaque id (ACCOUNT_ID_PREFIX...): principalId, logs, Moesif
KEYS_ATTR_STATE = "state"  # S: one of KEY_STATES
KEYS_ATTR_NOT_AFTER = "not_after"  # N epoch seconds: a rotating_out key's grace end
KEYS_ATTR_CREATED_AT = "created_at"  # N epoch seconds
KEYS_ATTR_ACCOUNT_STATUS = "account_status"  # S: the row's status (tollgate.domain.account.AccountStatus)
KEYS_ATTR_PLAN = "plan"  # S: the row's plan id
KEYS_ATTR_USAGE_KEY = "usage_key"  # S: the VALUE of the account's API Gateway key (usageIdentifierKey)
KEYS_ATTR_ACCOUNT_VERSION = "account_version"  # N: the row version the copies above come from
KEYS_TTL_ATTRIBUTE = "expires_at"  # N epoch seconds: DynamoDB TTL, set only on ended (revoked/retired) keys
KEY_STATE_ACTIVE = "active"
KEY_STATE_ROTATING_OUT = "rotating_out"  # callable until not_after
KEY_STATE_REVOKED = "revoked"
KEY_STATE_RETIRED = "retired"
KEY_STATES = (KEY_STATE_ACTIVE, KEY_STATE_ROTATING_OUT, KEY_STATE_REVOKED, KEY_STATE_RETIRED)
KEY_ID_LENGTH = 16
ENDED_KEY_RETENTION_SECONDS = 90 * 24 * 3600  # an ended key's item lingers this long (the account page lists it)
# The account statuses whose keys may call the API (every other status: the authorizer denies).
KEY_CALLABLE_ACCOUNT_STATUSES = ("active",)
ACCOUNT_ID_PREFIX = "acct_"  # + ACCOUNT_ID_LENGTH base62 characters; never the email (it goes to logs, Moesif)
ACCOUNT_ID_LENGTH = 20
# The REQUEST authorizer of every metered method (infra/authorizer.py); its identity source is the
# API_KEY_HEADER, so its results are cached by the presented key's value.
HANDLER_AUTHORIZER = "tollgate.handlers.authorizer.handler"
# How long API Gateway keeps an authorizer answer (setting `authorizer_cache_seconds`): a revoked key, a
# suspended account, stops calling at most this long after the keys table says so.
DEFAULT_AUTHORIZER_CACHE_SECONDS = 300
# What the authorizer puts in its answer's context ($context.authorizer.<name> on the stage).
AUTHORIZER_CONTEXT_ACCOUNT_ID = "accountId"
AUTHORIZER_CONTEXT_PLAN = "plan"
AUTHORIZER_CONTEXT_KEY_HINT = "keyHint"

# --- Idempotency table (Powertools Idempotency layout) ------------------------------------------
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

# --- Stripe -------------------------------------------------------------------------------------
STRIPE_API_VERSION = "2026-10-28.endive"  # the version stripe==16.1.0 is generated for
STRIPE_CUSTOMER_METADATA_API_KEY_ID = "awsAPIKeyId"
# The customer portal configuration `make stripe-setup` creates carries this metadata; the account
# function finds it by it (tollgate.adapters.stripe_account_billing).
STRIPE_PORTAL_CONFIGURATION_METADATA = {"tollgate": "portal"}
# Events the webhook endpoint must be subscribed to (docs/deploying.md and `make stripe-setup` use this list).
STRIPE_WEBHOOK_EVENTS = (
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "checkout.session.completed",
)

# --- Usage metering: access log -> ledger (S3) -> usage reporter -> Stripe meter events -----------
# The access-log fields the usage reporter reads. The stage's whole format is infra/access_log.py,
# which names these fields with these constants; values are strings, "-" when API Gateway had none.
ACCESS_LOG_REQUEST_ID = "requestId"
ACCESS_LOG_REQUEST_TIME_EPOCH = "requestTimeEpoch"  # milliseconds
ACCESS_LOG_RESOURCE_PATH = "resourcePath"
ACCESS_LOG_STATUS = "status"
ACCESS_LOG_INTEGRATION_LATENCY = "integrationLatency"  # "-" when no integration ran
ACCESS_LOG_ERROR_RESPONSE_TYPE = "errorResponseType"  # set when API Gateway answered itself
ACCESS_LOG_API_KEY_ID = "apiKeyId"
ACCESS_LOG_MISSING_VALUE = "-"
# `billable_statuses`: comma-separated codes, each a status class (`2xx`) or an exact code (`304`).
BILLABLE_STATUS_PATTERN = r"^[1-5](xx|[0-9]{2})$"
DEFAULT_BILLABLE_STATUSES = "2xx"
# Where Firehose backs up every access-log record (the ledger) and the records Moesif refused, in the
# ledger bucket: `<prefix><UTC hour>/<object>`. The hour folder is strftime's USAGE_LEDGER_HOUR_FORMAT,
# which infra/log_forwarding.py writes as Firehose's `!{timestamp:...}` expression.
USAGE_LEDGER_PREFIX = "ledger/"
USAGE_LEDGER_FAILED_PREFIX = "failed/"
USAGE_LEDGER_HOUR_FORMAT = "%Y/%m/%d/%H/"
# The usage reports table: one item per (ledger object, customer) report and one summary per object.
USAGE_REPORTS_PARTITION_KEY = "id"
USAGE_REPORTS_TTL_ATTRIBUTE = "expiresAt"
# Sparse index of the reports still `pending` (sort key: when the first send was attempted).
USAGE_REPORTS_INDEX_PENDING = "pending"
USAGE_REPORTS_ATTR_PENDING = "pending"  # partition key: always USAGE_REPORTS_PENDING_VALUE, only while pending
USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT = "firstAttemptAt"  # epoch seconds (number)
USAGE_REPORTS_PENDING_VALUE = "pending"
# Deliveries of a ledger object's message before SQS moves it to the dead-letter queue. With the
# reporter's backoff (1 min doubling to 1 h, tollgate.handlers.usage_reporter) that is about 7 h of
# retries: far inside Stripe's 24 h identifier de-duplication window.
USAGE_QUEUE_MAX_RECEIVES = 12

# --- Operations: metrics, alarms, housekeeping ----------------------------------------------------
ENV_STAGE = "TOLLGATE_STAGE"  # the stage name: the one dimension of every metric below
ENV_CANCELED_KEY_RETENTION_DAYS = "TOLLGATE_CANCELED_KEY_RETENTION_DAYS"  # housekeeping deletes older keys
ENV_USAGE_QUEUE_URL = "TOLLGATE_USAGE_QUEUE_URL"  # usage_reporter=tollgate only: `make status` reads its depth
# The scheduled housekeeping: deletes canceled accounts' keys after the retention, counts the keys of
# the region and the failed rows (tollgate.handlers.housekeeping), once per HOUSEKEEPING_INTERVAL_MINUTES.
HANDLER_HOUSEKEEPING = "tollgate.handlers.housekeeping.handler"
HOUSEKEEPING_INTERVAL_MINUTES = 60
HOUSEKEEPING_TIMEOUT_SECONDS = 300
# API Gateway: API keys per account and region, a quota AWS does not raise; every key of the region
# counts, other APIs' and disabled ones included. The housekeeping publishes the count, an alarm
# fires above API_KEYS_ALARM_RATIO of it.
API_KEYS_PER_REGION = 10_000
API_KEYS_ALARM_RATIO = 0.8
DEFAULT_CANCELED_KEY_RETENTION_DAYS = 30
# Alarm names start with "<deployment>: " (the deployment is the value of API_KEY_OWNER_TAG,
# "<stack>/<stage>"), so `make status` finds this deployment's alarms by that prefix.
ALARM_NAME_SEPARATOR = ": "

# Metrics: CloudWatch embedded metric format (Powertools Metrics, tollgate/metrics.py), one
# namespace, one dimension (the stage). The functions emit them, and the stack's alarms and dashboard
# (infra/monitoring.py) read them, by these names only. A counter is published only when it is not
# zero: CloudWatch bills a custom metric for each hour in which it is published.
METRICS_NAMESPACE = "Tollgate"
METRICS_STAGE_DIMENSION = "stage"
# Sign-ups (tollgate.domain.registration): every started one ends confirmed or failed, by reason.
# With verify_email, SIGNUPS_REQUESTED counts the sign-up requests (POST /register: a link is emailed,
# or a sign-in link to an address that has an account), and a sign-up starts when its link is opened.
METRIC_SIGNUPS_REQUESTED = "SignupsRequested"
METRIC_SIGNUPS_STARTED = "SignupsStarted"
METRIC_SIGNUPS_CONFIRMED = "SignupsConfirmed"
METRIC_SIGNUPS_FAILED = {  # reason -> metric
    "email_taken": "SignupsFailedEmailTaken",  # the email has an account, or its sign-up is running (409)
    "unavailable": "SignupsFailedServiceUnavailable",  # a service timed out, throttled or failed (503)
    "refused": "SignupsFailedServiceRefused",  # a service refused our request: the deployment needs a fix (502)
    "unexpected": "SignupsFailedUnexpected",  # anything else (a bug)
}
METRIC_SIGNUPS_ROLLED_BACK_WITH_LEFTOVERS = "SignupsRolledBackWithLeftovers"  # a `failed` row was left
# The Stripe webhook (tollgate.handlers.stripe_webhook), by outcome: lifecycle Outcome values, plus
# the deliveries refused as not signed by Stripe and those left for Stripe to retry (409/503).
METRIC_WEBHOOK_EVENTS = {
    "applied": "WebhookEventsApplied",
    "duplicate": "WebhookEventsDuplicate",
    "stale": "WebhookEventsStale",
    "ignored": "WebhookEventsIgnored",
    "rejected_signature": "WebhookSignaturesRejected",
    "retry_later": "WebhookEventsRetryLater",
}
# API keys made to follow an account (tollgate.domain.lifecycle), and deleted by the housekeeping.
METRIC_KEYS_ENABLED = "KeysEnabled"
METRIC_KEYS_DISABLED = "KeysDisabled"
METRIC_KEYS_DELETED = "CanceledKeysDeleted"
METRIC_KEY_DELETIONS_FAILED = "CanceledKeyDeletionsFailed"
# The reconciler (tollgate.handlers.reconciler); RECONCILER_RUNS_SUCCEEDED is its heartbeat: a run
# no failing service stopped (a run that used up its time budget succeeded: the next one resumes).
METRIC_SUBSCRIPTIONS_EXAMINED = "SubscriptionsExamined"
METRIC_ACCOUNTS_REPAIRED = "AccountsRepaired"
METRIC_REPAIRS_FAILED = "RepairsFailed"
# Live subscriptions of a known customer that no account records, canceled by the reconciler (an alarm).
METRIC_ORPHAN_SUBSCRIPTIONS_CANCELED = "OrphanSubscriptionsCanceled"
METRIC_RECONCILER_RUNS_INCOMPLETE = "ReconcilerRunsIncomplete"
METRIC_RECONCILER_RUNS_SUCCEEDED = "ReconcilerRunsSucceeded"
# The housekeeping (tollgate.handlers.housekeeping): API_KEYS_IN_REGION is published on every run
# (it doubles as the housekeeping's heartbeat); FAILED_ACCOUNTS counts rows a rollback left `failed`
# and sign-ups abandoned mid-way (what `make failed-accounts` lists).
METRIC_API_KEYS_IN_REGION = "ApiKeysInRegion"
METRIC_FAILED_ACCOUNTS = "FailedAccounts"
# Usage metering (tollgate.handlers.usage_reporter).
METRIC_LEDGER_OBJECTS = "LedgerObjects"
METRIC_BILLABLE_CALLS = "BillableCalls"
METRIC_USAGE_UNITS_REPORTED = "UsageUnitsReported"  # units Stripe accepted (sum of the meter events' values)
METRIC_METER_EVENTS_SENT = "MeterEventsSent"
METRIC_METER_EVENTS_ALREADY_REPORTED = "MeterEventsAlreadyReported"
METRIC_UNKNOWN_KEY_CALLS = "UnknownKeyCalls"  # billable calls of keys no account owns: not billed
METRIC_MALFORMED_RECORDS = "MalformedRecords"
METRIC_AMBIGUOUS_REPORTS = "AmbiguousReports"  # pending past Stripe's 24 h window: for the operator
METRIC_USAGE_REPORT_FAILURES = "UsageReportFailures"  # a ledger object's usage not (all) reported: retried
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
ROUTE_SIGNOUT = "/api/signout"  # POST {everywhere?}: ends this session (or every session of the account)
# The sign-up and checkout routes on the site's own origin: the same functions as ROUTE_REGISTER,
# ROUTE_CHECKOUT and ROUTE_CHECKOUT_OUTCOME, with the same request and answer, so the signup page calls
# only its own origin (no CORS; the API keeps the originals for machine clients).
ROUTE_SITE_REGISTER = "/api/register"
ROUTE_SITE_CHECKOUT = "/api/billing/checkout"
ROUTE_SITE_CHECKOUT_OUTCOME = "/api/billing/checkout/outcome"
SITE_TWIN_OF_ROUTE = dict(zip(SIGN_UP_ROUTES, (ROUTE_SITE_REGISTER, ROUTE_SITE_CHECKOUT, ROUTE_SITE_CHECKOUT_OUTCOME)))
# Route -> HTTP method, for the stage (infra/api.py), `make dev` (localdev) and WAF (infra/waf.py).
SITE_ROUTES = {
    ROUTE_SITE_REGISTER: "POST", ROUTE_SITE_CHECKOUT: "POST", ROUTE_SITE_CHECKOUT_OUTCOME: "POST",
    ROUTE_LINK: "POST", ROUTE_SIGNUP_CONFIRM: "POST", ROUTE_SIGNIN: "POST", ROUTE_SIGNIN_CONFIRM: "POST",
    ROUTE_ACCOUNT: "GET", ROUTE_ACCOUNT_KEY_ROTATE: "POST", ROUTE_ACCOUNT_KEY_REVOKE: "POST",
    ROUTE_ACCOUNT_BILLING_PORTAL: "POST", ROUTE_ACCOUNT_PLAN: "POST", ROUTE_SIGNOUT: "POST",
}
# The site routes anyone may call without a session: WAF limits them per viewer IP like /register.
SITE_ROUTES_WITHOUT_SESSION = (
    ROUTE_SITE_REGISTER, ROUTE_SITE_CHECKOUT, ROUTE_SITE_CHECKOUT_OUTCOME,
    ROUTE_LINK, ROUTE_SIGNUP_CONFIRM, ROUTE_SIGNIN, ROUTE_SIGNIN_CONFIRM,
)
# The account page's address on the signup site (links in emails, the portal's way back) and the
# file behind it: CloudFront and make dev's site server serve `/account` from `account.html`
# (infra/site_delivery.py PAGE_ROUTES).
ACCOUNT_PAGE = "account"
ACCOUNT_PAGE_FILE = "account.html"
HANDLER_ACCOUNT = "tollgate.handlers.account.handler"
# The function serving each site route, by handler (the stage and `make dev` route by it): the sign-up
# routes run the register and checkout functions, as their twins on the API do; the rest, the account's.
_SITE_ROUTES_NOT_THE_ACCOUNTS = {ROUTE_SITE_REGISTER: HANDLER_REGISTER, ROUTE_SIGNUP_CONFIRM: HANDLER_REGISTER,
                                 ROUTE_SITE_CHECKOUT: HANDLER_CHECKOUT, ROUTE_SITE_CHECKOUT_OUTCOME: HANDLER_CHECKOUT}
SITE_ROUTE_HANDLERS = {route: _SITE_ROUTES_NOT_THE_ACCOUNTS.get(route, HANDLER_ACCOUNT) for route in SITE_ROUTES}
HANDLER_KEY_RETIREMENT = "tollgate.handlers.key_retirement.handler"
# Counted by the account function (tollgate.handlers.account) when "Manage billing" found no customer portal
# configuration of `make stripe-setup` in the Stripe account and so opened none (never the account's default).
METRIC_BILLING_PORTAL_NOT_SET_UP = "BillingPortalNotSetUp"
KEY_RETIREMENT_INTERVAL_MINUTES = 5  # a rotated-out key stops at most this long after its grace
# `__Host-`: the browser keeps it only if Secure, Path=/ and without Domain (RFC 6265bis, cookie prefixes).
SESSION_COOKIE = "__Host-tollgate-session"
SESSION_SECONDS = 12 * 3600
# CloudFront's `/api/*` behaviour sets these on every request it forwards: the viewer's own IP (a
# CloudFront Function overwrites whatever the client sent), which WAF counts per-IP limits on, and a
# generated secret, without which WAF refuses `/api/*` (so nobody skips CloudFront to forge the IP).
VIEWER_IP_HEADER = "x-tollgate-viewer-ip"
SITE_ORIGIN_SECRET_HEADER = "x-tollgate-site-origin-verify"
ENV_CUSTOMER_ACCESS_TABLE = "TOLLGATE_CUSTOMER_ACCESS_TABLE"
ENV_VERIFY_EMAIL = "TOLLGATE_VERIFY_EMAIL"  # "true" / "false"
ENV_EMAIL_SENDER = "TOLLGATE_EMAIL_SENDER"
ENV_EMAIL_LINK_TTL_SECONDS = "TOLLGATE_EMAIL_LINK_TTL_SECONDS"
ENV_EMAILS_PER_ADDRESS_PER_HOUR = "TOLLGATE_EMAILS_PER_ADDRESS_PER_HOUR"
ENV_KEY_ROTATION_GRACE_SECONDS = "TOLLGATE_KEY_ROTATION_GRACE_SECONDS"
# The customer access table: one-time email links, sessions, per-address email counts and the
# reminders of rotated-out keys to retire. Everything in it expires (TTL); it holds no key value.
ACCESS_PARTITION_KEY = "id"
ACCESS_TTL_ATTRIBUTE = "expiresAt"
ACCESS_INDEX_BY_OWNER = "byOwner"  # sparse: sessions, by the account's email (sign out everywhere)
ACCESS_ATTR_OWNER = "owner"
ACCESS_INDEX_DUE = "due"  # sparse: key-retirement reminders, by due time
ACCESS_ATTR_DUE_KIND = "dueKind"
ACCESS_ATTR_DUE_AT = "dueAt"  # epoch seconds (number)
# Accounts table: a key that is no longer an account's current one is found through this item.
ACCOUNTS_KEY_INDEX_PREFIX = "api-key#"
# Usage reports table: a customer's reports by the time of their latest call (the account page's
# billable calls this period), see tollgate.adapters.dynamo_usage_reports.
USAGE_REPORTS_INDEX_BY_CUSTOMER = "byCustomer"
USAGE_REPORTS_ATTR_CUSTOMER_ID = "customerId"
USAGE_REPORTS_ATTR_TIMESTAMP = "timestamp"  # epoch seconds (number)
