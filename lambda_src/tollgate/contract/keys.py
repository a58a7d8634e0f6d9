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
