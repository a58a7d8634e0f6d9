"""API Gateway keys: the deployment's owner tag and the region's key capacity.

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
