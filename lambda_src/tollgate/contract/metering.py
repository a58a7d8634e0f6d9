"""Usage metering: access log -> ledger (S3) -> usage reporter -> Stripe meter events.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

# --- Usage metering: access log -> ledger (S3) -> usage reporter -> Stripe meter events -----------
# The access-log fields the usage reporter reads. The stage's whole format is infra/access_log.py,
# which names these fields with these constants; values are strings, "-" when API Gateway had none.
ACCESS_LOG_REQUEST_ID = "requestId"
ACCESS_LOG_REQUEST_TIME_EPOCH = "requestTimeEpoch"  # milliseconds
ACCESS_LOG_RESOURCE_PATH = "resourcePath"
ACCESS_LOG_HTTP_METHOD = "httpMethod"  # the evidence of a billed call (tollgate.domain.evidence) names it
ACCESS_LOG_PATH = "path"  # the path as the client asked for it, the stage included
ACCESS_LOG_STATUS = "status"
ACCESS_LOG_INTEGRATION_LATENCY = "integrationLatency"  # "-" when no integration ran
ACCESS_LOG_ERROR_RESPONSE_TYPE = "errorResponseType"  # set when API Gateway answered itself
ACCESS_LOG_API_KEY_ID = "apiKeyId"
# `$context.authorizer.principalId`: the account id the key authorizer resolved the caller's key to.
# The ledger's calls belong to it (a pooled gateway key is shared by many accounts); records written
# before the authorizer have none, and are attributed through their apiKeyId.
ACCESS_LOG_PRINCIPAL_ID = "principalId"
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
# The evidence behind every invoice, in the ledger bucket (tollgate.adapters.s3_usage_evidence): one
# CSV object per meter event under `<evidence prefix><customer>/`, kept as long as the ledger; a
# period's download compacted on request under `<downloads prefix><customer>/`, kept a day; each closed
# UTC day's objects compacted once under `<days prefix><customer>/`, kept as long as the evidence.
USAGE_EVIDENCE_PREFIX = "evidence/"
USAGE_EVIDENCE_DAYS_PREFIX = "evidence-days/"
USAGE_EVIDENCE_DOWNLOADS_PREFIX = "evidence-downloads/"
USAGE_EVIDENCE_DOWNLOAD_RETENTION_DAYS = 1
USAGE_EVIDENCE_URL_SECONDS = 300  # how long a download's signed URL works
# Deliveries of a ledger object's message before SQS moves it to the dead-letter queue. With the
# reporter's backoff (1 min doubling to 1 h, tollgate.handlers.usage_reporter) that is about 7 h of
# retries: far inside Stripe's 24 h identifier de-duplication window.
USAGE_QUEUE_MAX_RECEIVES = 12
