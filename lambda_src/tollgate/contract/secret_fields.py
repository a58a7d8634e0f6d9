"""The two Secrets Manager secrets and their field names.

Part of tollgate.contract (see its docstring): plain data, no imports but its siblings."""

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
