"""A Tollgate secret (one JSON document in Secrets Manager), cached between invocations.

There are two (tollgate.contract.secret_fields): the Stripe secret and the Moesif secret. Values are fetched at most
every SECRET_MAX_AGE_SECONDS, so a rotated key is picked up without a deploy. A field still holding
the stack's placeholder is refused with a message that names it: a half-configured deployment
fails clearly instead of calling Stripe with "REPLACE_ME".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tollgate import contract
from tollgate.domain.errors import ConfigurationError, DownstreamError

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class SecretValues:
    """One secret's fields; reading a field refuses a missing or placeholder value."""

    secret_arn: str
    _values: tuple[tuple[str, str], ...] = field(repr=False)

    def field(self, name: str) -> str:
        """The value of field `name` (a contract.SECRET_FIELD_* name); ConfigurationError if unset."""
        return self._required(name)

    def require(self, *names: str) -> None:
        """ConfigurationError unless every named field holds a real value (checked before a flow
        creates anything, so a half-configured deployment answers 503 without side effects)."""
        for name in names:
            self._required(name)

    def _required(self, name: str) -> str:
        value = dict(self._values).get(name, "")
        if not isinstance(value, str) or not value.strip() or value.strip() == contract.SECRET_PLACEHOLDER:
            raise ConfigurationError(
                f"Secret {self.secret_arn} has no value for '{name}' (still {contract.SECRET_PLACEHOLDER!r} or "
                "empty): put the real value in Secrets Manager (see docs/deploying.md, 'After the first deploy')."
            )
        return value.strip()


class SecretStore:
    """Reads the secret through Powertools' SecretsProvider (cached for SECRET_MAX_AGE_SECONDS),
    on the process's own Secrets Manager client (aws_clients.AwsClients: Tollgate's timeouts, no
    second boto3 session)."""

    def __init__(self, secret_arn: str, secrets_manager_client: Any):
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._secret_arn = secret_arn
        self._provider = SecretsProvider(boto3_client=secrets_manager_client)

    def load(self) -> SecretValues:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            document = self._provider.get(self._secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
        except TransformParameterError:
            raise ConfigurationError(f"Secret {self._secret_arn} is not a JSON object.") from None
        except GetParameterError as error:
            raise DownstreamError("Secrets Manager", f"read secret failed ({error})", retryable=True) from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"Secret {self._secret_arn} is not a JSON object.")
        return SecretValues(
            self._secret_arn, tuple(sorted((name, value) for name, value in document.items() if isinstance(value, str)))
        )
