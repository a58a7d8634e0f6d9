"""boto3 clients with the timeouts and retries every Tollgate call to AWS uses, from ONE boto3
session per process, and the one mapping of AWS failures to the domain's errors (`call_aws`),
which every AWS adapter calls through.

A session is costly to create (each one loads the endpoint and service data again), and
Powertools' SecretsProvider and DynamoDBPersistenceLayer open their own unless given a client:
AwsClients hands every user the same session's clients. boto3 honours AWS_ENDPOINT_URL, so tests
and `make dev` point these same clients at moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tollgate.domain.errors import DownstreamError, Throttled

T = TypeVar("T")
CONDITION_FAILED = "ConditionalCheckFailedException"  # DynamoDB: a ConditionExpression did not hold
TRANSACTION_CANCELED = "TransactionCanceledException"  # DynamoDB: an item of a transaction refused it
NOT_FOUND = frozenset({"NotFoundException", "ResourceNotFoundException"})

# Standard mode retries throttling, 5xx and connection errors with a jittered backoff of at most
# 1 s, then 2 s (throttling; a 50 ms scale otherwise). API Gateway's control plane and Secrets
# Manager answer in well under a second, DynamoDB single-item calls in milliseconds.
AWS_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 3})
DYNAMODB_CLIENT_CONFIG = Config(
    connect_timeout=0.5, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 3}
)

# S3 signs with Signature Version 4, presigned URLs too (the evidence download's: "All presigned URL's
# now use sigv4", https://docs.aws.amazon.com/cli/latest/reference/s3/presign.html), whose expiry
# the URL carries (X-Amz-Expires, at most 7 days).
S3_CLIENT_CONFIG = AWS_CLIENT_CONFIG.merge(Config(signature_version="s3v4"))
_CLIENT_CONFIGS = {"dynamodb": DYNAMODB_CLIENT_CONFIG, "s3": S3_CLIENT_CONFIG}


def call_budget_seconds(config: Config) -> float:
    """The longest one call can take with `config`: every attempt times out, full backoff between."""
    attempts: int = config.retries["total_max_attempts"]
    timeouts: float = config.connect_timeout + config.read_timeout
    backoff: int = sum(2**retry for retry in range(attempts - 1))
    return attempts * timeouts + backoff


_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
    }
)


class AwsClients:
    """One boto3 session (made on first use) and one client per service, with Tollgate's
    timeouts and retries. Clients are thread-safe; making them from a session is not, hence the lock."""

    def __init__(self, session: boto3.session.Session | None = None):
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service_name: str) -> Any:
        with self._lock:
            if service_name not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session()
                config = _CLIENT_CONFIGS.get(service_name, AWS_CLIENT_CONFIG)
                self._clients[service_name] = self._session.client(service_name, config=config)
            return self._clients[service_name]


def error_code(error: ClientError) -> str:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code


def downstream_error(service: str, action: str, error: ClientError | BotoCoreError) -> DownstreamError:
    """DownstreamError for a failed AWS call; retryable when throttled, 5xx or unreachable."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error_code(error) in _THROTTLING_CODES:
            return Throttled(service, f"{action} failed ({error_code(error)})")
        retryable = status >= 500
        return DownstreamError(service, f"{action} failed ({error_code(error) or status})", retryable=retryable)
    return DownstreamError(service, f"{action} failed ({type(error).__name__})", retryable=True)


def call_aws(
    service: str,
    action: str,
    operation: Callable[..., T],
    /,
    *,
    expected: Mapping[str, Callable[[ClientError], T]] | None = None,
    **parameters: Any,
) -> T:
    """`operation(**parameters)`. An error whose code is in `expected` is an answer the caller
    expects (a condition that did not hold, something already gone): its callable says what it means,
    by returning a value or raising a domain error. Any other failure is a DownstreamError, retryable
    when AWS throttled, failed (5xx) or could not be reached."""
    try:
        return operation(**parameters)
    except ClientError as error:
        if expected and error_code(error) in expected:
            return expected[error_code(error)](error)
        raise downstream_error(service, action, error) from None
    except BotoCoreError as error:
        raise downstream_error(service, action, error) from None


def answer(value: T) -> Callable[[ClientError], T]:
    """For `call_aws(expected=...)`: the error means `value`."""
    return lambda _error: value


def refuse(error: Exception) -> Callable[[ClientError], NoReturn]:
    """For `call_aws(expected=...)`: the error means `error` (a domain error) is raised."""

    def raise_it(_error: ClientError) -> NoReturn:
        raise error

    return raise_it


def cancellation_reasons(error: ClientError) -> list[str | None]:
    """The code each item of a canceled DynamoDB transaction gave, in the transaction's order."""
    return [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
