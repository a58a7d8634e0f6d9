"""The Tollgate secret (one JSON document in Secrets Manager), cached between invocations.

Values are fetched at most every SECRET_MAX_AGE_SECONDS, so a rotated Stripe key is picked up
without a deploy. A field still holding the stack's placeholder is refused with a message that
names it: a half-configured deployment fails clearly instead of calling Stripe with "REPLACE_ME".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate import contract
from tollgate.adapters.aws_clients import AWS_CLIENT_CONFIG
from tollgate.domain.errors import ConfigurationError, DownstreamError

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class TollgateSecrets:
    """The secret's fields; each property refuses a missing or placeholder value."""

    secret_arn: str
    _values: tuple[tuple[str, str], ...] = field(repr=False)

    @property
    def stripe_secret_key(self) -> str:
        return self._required(contract.SECRET_FIELD_STRIPE_SECRET_KEY)

    @property
    def stripe_webhook_secret(self) -> str:
        return self._required(contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET)

    @property
    def moesif_application_id(self) -> str:
        return self._required(contract.SECRET_FIELD_MOESIF_APPLICATION_ID)

    def _required(self, name: str) -> str:
        value = dict(self._values).get(name, "")
        if not isinstance(value, str) or not value.strip() or value.strip() == contract.SECRET_PLACEHOLDER:
            raise ConfigurationError(
                f"Secret {self.secret_arn} has no value for '{name}' (still {contract.SECRET_PLACEHOLDER!r} or "
                "empty): put the real value in Secrets Manager (see README, 'After deploy')."
            )
        return value.strip()


class SecretStore:
    """Reads the secret through Powertools' SecretsProvider (cached, with Tollgate's timeouts)."""

    def __init__(self, secret_arn: str, provider=None):
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._secret_arn = secret_arn
        self._provider = provider or SecretsProvider(boto_config=AWS_CLIENT_CONFIG)

    def load(self) -> TollgateSecrets:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            document = self._provider.get(self._secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
        except TransformParameterError:
            raise ConfigurationError(f"Secret {self._secret_arn} is not a JSON object.") from None
        except GetParameterError as error:
            raise DownstreamError("Secrets Manager", f"read secret failed ({error})", retryable=True) from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"Secret {self._secret_arn} is not a JSON object.")
        return TollgateSecrets(
            self._secret_arn, tuple(sorted((name, value) for name, value in document.items() if isinstance(value, str)))
        )
