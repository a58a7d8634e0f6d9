"""Operations: metric names, the namespace and dimension, alarm names.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- Operations: metrics, alarms, housekeeping ----------------------------------------------------
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
# Counted by the account function (tollgate.handlers.account) when "Manage billing" found no customer portal
# configuration of `make stripe-setup` in the Stripe account and so opened none (never the account's default).
METRIC_BILLING_PORTAL_NOT_SET_UP = "BillingPortalNotSetUp"
