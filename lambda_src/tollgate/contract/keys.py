"""Keys: the Tollgate keys customers hold (their prefix, who may call, the account id the authorizer
answers) and API Gateway keys (the deployment's owner tag and the region's key capacity).

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- API keys ------------------------------------------------------------------------------------
# Every key a deployment creates carries this tag, valued with the deployment's name (stack/stage).
# The functions may read, enable, disable or delete only keys that carry it, and create keys only
# with it (IAM conditions, infra/api_key_access.py); operators' orphan searches look at it too, so
# two deployments in one region never touch each other's keys.
API_KEY_OWNER_TAG = "tollgate:deployment"
# API Gateway: API keys per account and region, a quota AWS does not raise; every key of the region
# counts, other APIs' and disabled ones included. The housekeeping publishes the count, an alarm
# fires above API_KEYS_ALARM_RATIO of it.
API_KEYS_PER_REGION = 10_000
API_KEYS_ALARM_RATIO = 0.8
DEFAULT_CANCELED_KEY_RETENTION_DAYS = 30

# --- Tollgate keys (issue 20; their items: tables.KEYS_*) ------------------------------------------
DEFAULT_KEY_PREFIX = "tgk"
# The account statuses whose keys may call the API (every other status: the authorizer denies).
KEY_CALLABLE_ACCOUNT_STATUSES = ("active",)
ACCOUNT_ID_PREFIX = "acct_"  # + ACCOUNT_ID_LENGTH base62 characters; never the email (it goes to logs, Moesif)
ACCOUNT_ID_LENGTH = 20
# How long API Gateway keeps the key authorizer's answer (setting `authorizer_cache_seconds`): a revoked
# key, a suspended account, stops calling at most this long after the keys table says so.
DEFAULT_AUTHORIZER_CACHE_SECONDS = 300
# What the authorizer puts in its answer's context ($context.authorizer.<name> on the stage).
AUTHORIZER_CONTEXT_ACCOUNT_ID = "accountId"
AUTHORIZER_CONTEXT_PLAN = "plan"
AUTHORIZER_CONTEXT_KEY_HINT = "keyHint"
# ... and, on every allow, the usage limit the stage's 429 QUOTA_EXCEEDED body names (infra/gateway_errors.py):
# its code, when it lifts (ISO 8601 UTC; "" when the stage's own usage-plan quota is what answered) and
# what it tells the customer.
AUTHORIZER_CONTEXT_USAGE_LIMIT = "usageLimit"
AUTHORIZER_CONTEXT_USAGE_LIMIT_UNTIL = "usageLimitUntil"
AUTHORIZER_CONTEXT_USAGE_LIMIT_MESSAGE = "usageLimitMessage"

# The "limit reached" gateway key's value begins so (infra/usage_limits.py, localdev.bootstrap).
LIMIT_REACHED_KEY_PREFIX = "tollgate-limit-reached-"

# --- Usage limits (tollgate.domain.usage_limits): why an account's calls stop until its period ends ---
USAGE_LIMIT_QUOTA_EXCEEDED = "quota_exceeded"  # its plan's quota, counted by Tollgate (pooled plans) or the stage
USAGE_LIMIT_SPEND_CAP_REACHED = "spend_cap_reached"  # a paid plan's charges reached the customer's cap
USAGE_LIMIT_CREDITS_EXHAUSTED = "credits_exhausted"  # a prepaid plan's credits are spent
# What the 429 says for each (a gateway response's body substitutes it as is: no double quote, no backslash).
USAGE_LIMIT_MESSAGES = {
    USAGE_LIMIT_QUOTA_EXCEEDED: "This account has used its plan's quota for the current period: see your plan and "
    "upgrade on your account page (accountUrl).",
    USAGE_LIMIT_SPEND_CAP_REACHED: "This account has reached its spend cap for the current period: raise or remove "
    "it on your account page (accountUrl).",
    USAGE_LIMIT_CREDITS_EXHAUSTED: "This account has no credits left: buy credits on your account page (accountUrl).",
}
