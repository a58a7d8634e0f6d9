"""Environment variables the stack sets on the functions (and make dev on its processes).

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- Environment variables the stack sets on the functions ------------------------------------
ENV_STRIPE_SECRET_ARN = "TOLLGATE_STRIPE_SECRET_ARN"
ENV_MOESIF_SECRET_ARN = "TOLLGATE_MOESIF_SECRET_ARN"
ENV_ACCOUNTS_TABLE = "TOLLGATE_ACCOUNTS_TABLE"
ENV_KEYS_TABLE = "TOLLGATE_KEYS_TABLE"  # the keys table (tables.KEYS_*)
ENV_CREDITS_TABLE = "TOLLGATE_CREDITS_TABLE"  # prepaid accounts' credit entries (tables.CREDITS_*)
ENV_KEY_PREFIX = "TOLLGATE_KEY_PREFIX"  # tollgate.domain.api_key_format's prefix (setting key_prefix)
ENV_IDEMPOTENCY_TABLE = "TOLLGATE_IDEMPOTENCY_TABLE"
ENV_KEY_OWNER = "TOLLGATE_KEY_OWNER"  # this deployment's value of API_KEY_OWNER_TAG, e.g. Tollgate/prod
# The plans sold (tollgate.plans.PlanCatalog.to_json): usage plan, price, card rule of each.
ENV_PLANS = "TOLLGATE_PLANS"
ENV_SIGNUP_URL = "TOLLGATE_SIGNUP_URL"  # Checkout success/cancel pages live here
# Usage metering (set only with usage_reporter=tollgate; tollgate.contract.metering).
ENV_USAGE_LEDGER_BUCKET = "TOLLGATE_USAGE_LEDGER_BUCKET"
ENV_USAGE_REPORTS_TABLE = "TOLLGATE_USAGE_REPORTS_TABLE"
ENV_USAGE_COUNTS_TABLE = "TOLLGATE_USAGE_COUNTS_TABLE"
# The authorizer's: the VALUE of the "limit reached" API Gateway key, whose usage plan allows no call
# (quota 0), answered as usageIdentifierKey for an account over a usage limit (infra/usage_limits.py).
ENV_LIMIT_REACHED_KEY = "TOLLGATE_LIMIT_REACHED_KEY"
ENV_USAGE_DEAD_LETTER_QUEUE_URL = "TOLLGATE_USAGE_DEAD_LETTER_QUEUE_URL"
ENV_BILLABLE_STATUSES = "TOLLGATE_BILLABLE_STATUSES"  # e.g. "2xx" or "2xx,304"
# Optional overrides: unset in a deployed stack (the SDK defaults apply); the local dev harness
# and the tests point them at the emulators. AWS itself is redirected with boto3's standard
# AWS_ENDPOINT_URL, so no Tollgate-specific variable exists for it.
ENV_STRIPE_API_BASE = "TOLLGATE_STRIPE_API_BASE"
ENV_MOESIF_API_BASE = "TOLLGATE_MOESIF_API_BASE"
ENV_BACKEND_SECRET_ARN = "TOLLGATE_BACKEND_SECRET_ARN"  # the sample backend reads the values it accepts
ENV_STAGE = "TOLLGATE_STAGE"  # the stage name: the one dimension of every metric (tollgate.contract.metrics)
ENV_CANCELED_KEY_RETENTION_DAYS = "TOLLGATE_CANCELED_KEY_RETENTION_DAYS"  # housekeeping deletes older keys
ENV_USAGE_QUEUE_URL = "TOLLGATE_USAGE_QUEUE_URL"  # usage_reporter=tollgate only: `make status` reads its depth
ENV_CUSTOMER_ACCESS_TABLE = "TOLLGATE_CUSTOMER_ACCESS_TABLE"
ENV_VERIFY_EMAIL = "TOLLGATE_VERIFY_EMAIL"  # "true" / "false"
ENV_EMAIL_SENDER = "TOLLGATE_EMAIL_SENDER"
ENV_EMAIL_LINK_TTL_SECONDS = "TOLLGATE_EMAIL_LINK_TTL_SECONDS"
ENV_EMAILS_PER_ADDRESS_PER_HOUR = "TOLLGATE_EMAILS_PER_ADDRESS_PER_HOUR"
ENV_KEY_ROTATION_GRACE_SECONDS = "TOLLGATE_KEY_ROTATION_GRACE_SECONDS"
