"""DynamoDB tables: keys, indexes and attributes the stack creates and the adapters read.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

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
# DynamoDB type "S" or "N"); projection ALL. The stack (infra/billing_lifecycle.py) and `make dev`
# (localdev/bootstrap.py) both build them from this.
ACCOUNTS_INDEXES = (
    (ACCOUNTS_INDEX_BY_API_KEY_ID, ACCOUNTS_ATTR_API_KEY_ID, "S"),
    (ACCOUNTS_INDEX_BY_SUBSCRIPTION_ID, ACCOUNTS_ATTR_SUBSCRIPTION_ID, "S"),
    (ACCOUNTS_INDEX_BY_CUSTOMER_ID, ACCOUNTS_ATTR_CUSTOMER_ID, "S"),
    (ACCOUNTS_INDEX_FOLLOW_UP, ACCOUNTS_ATTR_FOLLOW_UP_SINCE, "N"),
)
ACCOUNTS_TTL_ATTRIBUTE = "expiresAt"  # only set on short-lived bookkeeping items (e.g. seen Stripe event ids)

# --- Idempotency table (Powertools Idempotency layout) ------------------------------------------
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
# The usage reports table: one item per (ledger object, customer) report and one summary per object.
USAGE_REPORTS_PARTITION_KEY = "id"
USAGE_REPORTS_TTL_ATTRIBUTE = "expiresAt"
# Sparse index of the reports still `pending` (sort key: when the first send was attempted).
USAGE_REPORTS_INDEX_PENDING = "pending"
USAGE_REPORTS_ATTR_PENDING = "pending"  # partition key: always USAGE_REPORTS_PENDING_VALUE, only while pending
USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT = "firstAttemptAt"  # epoch seconds (number)
USAGE_REPORTS_PENDING_VALUE = "pending"
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
