"""The functions' settings, read once from the environment the stack sets (names in tollgate.contract.environment).

Validated at cold start so a mis-deployed function fails on its first invocation with a message
naming the variable, instead of half-way through a sign-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tollgate import contract
from tollgate.domain.api_key_format import check_prefix
from tollgate.domain.errors import ConfigurationError
from tollgate.domain.usage import BillableStatuses
from tollgate.plans import PlanCatalog

_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class UsageConfig:
    """Where usage metering lives (usage_reporter=tollgate only; the stack sets none of it otherwise)."""

    ledger_bucket: str
    reports_table: str
    queue_url: str
    dead_letter_queue_url: str
    billable_statuses: BillableStatuses
    counts_table: str


@dataclass(frozen=True)
class CustomerAccountsConfig:
    """Verified sign-up, sign-in links, sessions and key rotation (the stack always sets these)."""

    access_table: str
    verify_email: bool
    email_sender: str
    link_ttl_seconds: int
    emails_per_address_per_hour: int
    key_rotation_grace_seconds: int


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything a Tollgate function needs to know about its deployment (no secret values)."""

    stripe_secret_arn: str
    moesif_secret_arn: str
    accounts_table: str
    keys_table: str  # the Tollgate keys' hashes (tollgate.domain.key_items)
    credits_table: str  # prepaid accounts' credit entries (tollgate.domain.credits)
    idempotency_table: str
    plans: PlanCatalog
    key_owner: str  # the value of contract.API_KEY_OWNER_TAG on this deployment's keys
    signup_url: str
    stage: str  # the metrics' dimension
    canceled_key_retention_days: int  # the housekeeping deletes a canceled account's key after this
    stripe_api_base: str | None = None  # None: Stripe's own API
    key_prefix: str = contract.DEFAULT_KEY_PREFIX  # what every key issued starts with (tollgate.domain.api_key_format)
    moesif_api_base: str | None = None  # None: Moesif's own API
    usage: UsageConfig | None = None  # None: this deployment does not report usage (usage_reporter=moesif)
    accounts: CustomerAccountsConfig | None = None  # None: a function that serves no customer-account route

    def require_accounts(self) -> CustomerAccountsConfig:
        if self.accounts is None:
            raise ConfigurationError(
                f"Environment variable {contract.ENV_CUSTOMER_ACCESS_TABLE} is not set; the stack sets it on the "
                "functions that serve sign-up, sign-in and the account page."
            )
        return self.accounts

    @property
    def deployment_name(self) -> str:
        """ "<stack>/<stage>": the value of contract.API_KEY_OWNER_TAG on this deployment's keys, and
        the start of its alarms' names."""
        return self.key_owner

    def require_usage(self) -> UsageConfig:
        if self.usage is None:
            raise ConfigurationError(
                f"Environment variable {contract.ENV_USAGE_LEDGER_BUCKET} is not set: this deployment does not report "
                "usage to Stripe (the stack sets it only with usage_reporter=tollgate)."
            )
        return self.usage

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RuntimeConfig:  # noqa: C901 - one read per variable
        """Read and check every variable; raise ConfigurationError naming the first bad one."""

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ConfigurationError(
                    f"Environment variable {name} is not set; the stack sets it on every function."
                )
            return value

        def optional(name: str) -> str | None:
            return environ.get(name, "").strip().rstrip("/") or None

        def flag(name: str) -> bool:
            value = required(name).lower()
            if value not in _BOOLEANS:
                raise ConfigurationError(f"Environment variable {name} must be 'true' or 'false', not {value!r}.")
            return _BOOLEANS[value]

        def days(name: str) -> int:
            value = required(name)
            if not value.isdigit() or int(value) < 1:
                raise ConfigurationError(
                    f"Environment variable {name} must be a whole number of days, 1 or more, not {value!r}."
                )
            return int(value)

        def usage() -> UsageConfig | None:
            if optional(contract.ENV_USAGE_LEDGER_BUCKET) is None:
                return None
            statuses = optional(contract.ENV_BILLABLE_STATUSES) or contract.DEFAULT_BILLABLE_STATUSES
            try:
                billable = BillableStatuses.parse(statuses)
            except ValueError as error:
                raise ConfigurationError(f"Environment variable {contract.ENV_BILLABLE_STATUSES}: {error}.") from None
            return UsageConfig(
                required(contract.ENV_USAGE_LEDGER_BUCKET),
                required(contract.ENV_USAGE_REPORTS_TABLE),
                required(contract.ENV_USAGE_QUEUE_URL),
                required(contract.ENV_USAGE_DEAD_LETTER_QUEUE_URL),
                billable,
                required(contract.ENV_USAGE_COUNTS_TABLE),
            )

        def whole_number(name: str) -> int:
            value = required(name)
            if not value.isdigit() or int(value) < 1:
                raise ConfigurationError(f"Environment variable {name} must be a whole number above 0, not {value!r}.")
            return int(value)

        def key_prefix() -> str:
            try:
                return check_prefix(optional(contract.ENV_KEY_PREFIX) or contract.DEFAULT_KEY_PREFIX)
            except ValueError as error:
                raise ConfigurationError(f"Environment variable {contract.ENV_KEY_PREFIX}: {error}.") from None

        def plans() -> PlanCatalog:
            try:
                return PlanCatalog.from_json(required(contract.ENV_PLANS))
            except ValueError as error:
                raise ConfigurationError(f"Environment variable {contract.ENV_PLANS}: {error}.") from None

        def accounts() -> CustomerAccountsConfig | None:
            if optional(contract.ENV_CUSTOMER_ACCESS_TABLE) is None:
                return None
            return CustomerAccountsConfig(
                required(contract.ENV_CUSTOMER_ACCESS_TABLE),
                flag(contract.ENV_VERIFY_EMAIL),
                required(contract.ENV_EMAIL_SENDER),
                whole_number(contract.ENV_EMAIL_LINK_TTL_SECONDS),
                whole_number(contract.ENV_EMAILS_PER_ADDRESS_PER_HOUR),
                whole_number(contract.ENV_KEY_ROTATION_GRACE_SECONDS),
            )

        return cls(
            stripe_secret_arn=required(contract.ENV_STRIPE_SECRET_ARN),
            moesif_secret_arn=required(contract.ENV_MOESIF_SECRET_ARN),
            accounts_table=required(contract.ENV_ACCOUNTS_TABLE),
            keys_table=required(contract.ENV_KEYS_TABLE),
            credits_table=required(contract.ENV_CREDITS_TABLE),
            key_prefix=key_prefix(),
            idempotency_table=required(contract.ENV_IDEMPOTENCY_TABLE),
            plans=plans(),
            key_owner=required(contract.ENV_KEY_OWNER),
            signup_url=required(contract.ENV_SIGNUP_URL),
            stage=required(contract.ENV_STAGE),
            canceled_key_retention_days=days(contract.ENV_CANCELED_KEY_RETENTION_DAYS),
            stripe_api_base=optional(contract.ENV_STRIPE_API_BASE),
            moesif_api_base=optional(contract.ENV_MOESIF_API_BASE),
            usage=usage(),
            accounts=accounts(),
        )
