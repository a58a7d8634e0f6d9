"""The Lambda entry points (module.function inside lambda_src/) and their time budgets and schedules.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

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
# The scheduled housekeeping: deletes canceled accounts' keys after the retention, counts the keys of
# the region and the failed rows (tollgate.handlers.housekeeping), once per HOUSEKEEPING_INTERVAL_MINUTES.
HANDLER_HOUSEKEEPING = "tollgate.handlers.housekeeping.handler"
HOUSEKEEPING_INTERVAL_MINUTES = 60
HOUSEKEEPING_TIMEOUT_SECONDS = 300
HANDLER_ACCOUNT = "tollgate.handlers.account.handler"
HANDLER_KEY_RETIREMENT = "tollgate.handlers.key_retirement.handler"
# The REQUEST authorizer of every metered method (infra/authorizer.py); its identity source is the
# API key header, so API Gateway caches its answers by the presented key's value.
HANDLER_AUTHORIZER = "tollgate.handlers.authorizer.handler"
KEY_RETIREMENT_INTERVAL_MINUTES = 5  # a rotated-out key stops at most this long after its grace
