"""DynamoDB tables: keys, indexes and attributes the stack creates and the adapters read.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- Accounts table -----------------------------------------------------------------------------
ACCOUNTS_PARTITION_KEY = "email"  # normalised email: one account per email
ACCOUNTS_INDEX_BY_API_KEY_ID = "byApiKeyId"  # partition key attribute: apiKeyId
ACCOUNTS_INDEX_BY_SUBSCRIPTION_ID = "bySubscriptionId"  # partition key attribute: subscriptionId
ACCOUNTS_INDEX_BY_CUSTOMER_ID = "byCustomerId"  # partition key attribute: customerId
# The usage reporter finds the account of a ledger record by its `principalId` (the account id the
# authorizer answered): with pooled gateway keys, a record's apiKeyId no longer names one account.
ACCOUNTS_INDEX_BY_ACCOUNT_ID = "byAccountId"  # partition key attribute: accountId
ACCOUNTS_ATTR_API_KEY_ID = "apiKeyId"
ACCOUNTS_ATTR_SUBSCRIPTION_ID = "subscriptionId"
ACCOUNTS_ATTR_CUSTOMER_ID = "customerId"
ACCOUNTS_ATTR_ACCOUNT_ID = "accountId"
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
    (ACCOUNTS_INDEX_BY_ACCOUNT_ID, ACCOUNTS_ATTR_ACCOUNT_ID, "S"),
    (ACCOUNTS_INDEX_FOLLOW_UP, ACCOUNTS_ATTR_FOLLOW_UP_SINCE, "N"),
)
ACCOUNTS_TTL_ATTRIBUTE = "expiresAt"  # only set on short-lived bookkeeping items (e.g. seen Stripe event ids)

# --- Keys table: the Tollgate keys customers hold, stored only as their SHA-256 (issue 20) --------
# One item per key, read by the authorizer in ONE GetItem (so the account's status, plan and usage key
# are copied onto it by the writers of the account row: tollgate.domain.key_enforcement). Attribute
# names are the item's own (snake_case), shared by the runtime, the authorizer, the stack and `make dev`.
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
# S / N: the row's usage limit (contract.USAGE_LIMIT_*) and when it lifts (epoch seconds); absent: none.
KEYS_ATTR_USAGE_LIMIT = "usage_limit"
KEYS_ATTR_USAGE_LIMIT_UNTIL = "usage_limit_until"
KEYS_TTL_ATTRIBUTE = "expires_at"  # N epoch seconds: DynamoDB TTL, set only on ended (revoked/retired) keys
KEY_STATE_ACTIVE = "active"
KEY_STATE_ROTATING_OUT = "rotating_out"  # callable until not_after
KEY_STATE_REVOKED = "revoked"
KEY_STATE_RETIRED = "retired"
KEY_STATES = (KEY_STATE_ACTIVE, KEY_STATE_ROTATING_OUT, KEY_STATE_REVOKED, KEY_STATE_RETIRED)
KEY_ID_LENGTH = 16
ENDED_KEY_RETENTION_SECONDS = 90 * 24 * 3600  # an ended key's item lingers this long (the account page lists it)

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
# The usage counts table: per account and UTC hour, the metered calls (what a quota counts) and the
# billable calls per price the ledger's objects held, each object counted once (its tag in the hour's
# set). Written by the usage reporter only (tollgate.adapters.dynamo_usage_counts).
USAGE_COUNTS_PARTITION_KEY = "account"  # S: the account id (contract.ACCOUNT_ID_PREFIX...)
USAGE_COUNTS_SORT_KEY = "hour"  # N: epoch seconds of the UTC hour's start
USAGE_COUNTS_ATTR_METERED = "metered"  # N
USAGE_COUNTS_ATTR_BILLABLE = "billable"  # N: every billable call, whatever its price (free plans' too)
USAGE_COUNTS_BILLED_PREFIX = "billed:"  # N attributes `billed:<price id>`: the billable calls made at that price
USAGE_COUNTS_ATTR_OBJECTS = "objects"  # SS: tags of the ledger objects counted into the hour
USAGE_COUNTS_TTL_ATTRIBUTE = "expiresAt"
# How long an hour's counts are kept: a month's quota and the billing period before the current one.
USAGE_COUNTS_RETENTION_SECONDS = 70 * 24 * 3600

# --- Credit ledger: each prepaid account's credit entries, append-only (issue 21) ----------------------
# One item per entry (purchase, usage, refund, adjustment), keyed by a deterministic entry id, so an entry
# is written once however often its cause is retried; and one BALANCE item per account holding the sum,
# moved only in the same transaction that appends an entry (tollgate.adapters.dynamo_credit_ledger).
CREDITS_PARTITION_KEY = "account_id"  # S: the account's opaque id
CREDITS_SORT_KEY = "entry_id"  # S: "<kind>#<cause>", e.g. purchase#cs_123, usage#<ledger object hash>
CREDITS_BALANCE_ENTRY_ID = "balance"  # the sort key of the account's running sum
CREDITS_ATTR_KIND = "kind"  # S: purchase, usage, refund, adjustment
CREDITS_ATTR_AMOUNT = "amount"  # N: micro-units of the currency (1,000,000 = 1 USD); usage is negative
CREDITS_ATTR_AT = "at"  # N epoch seconds
CREDITS_ATTR_NOTE = "note"  # S: what the entry is for (pack, calls, ...), for the account page
CREDITS_ATTR_BALANCE = "balance"  # N: on the balance item, the sum of the entries
