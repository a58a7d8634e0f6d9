"""boto3 clients with the timeouts and retries every Tollgate call to AWS uses, and the mapping
of AWS failures to DownstreamError.

boto3 honours AWS_ENDPOINT_URL, so tests and `make dev` point these same clients at moto.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tollgate.domain.errors import DownstreamError

# Standard mode retries throttling, 5xx and connection errors with backoff. `max_attempts` counts
# retries (botocore: 3 retries = 4 attempts); each attempt has at most 2 s to connect, 4 s to read.
AWS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=4, retries={"mode": "standard", "max_attempts": 3})

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


def aws_client(service_name: str) -> Any:
    """A boto3 client for `service_name` with Tollgate's timeouts and retries."""
    return boto3.client(service_name, config=AWS_CLIENT_CONFIG)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def downstream_error(service: str, action: str, error: ClientError | BotoCoreError) -> DownstreamError:
    """DownstreamError for a failed AWS call; retryable when throttled, 5xx or unreachable."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = status >= 500 or error_code(error) in _THROTTLING_CODES
        return DownstreamError(service, f"{action} failed ({error_code(error) or status})", retryable=retryable)
    return DownstreamError(service, f"{action} failed ({type(error).__name__})", retryable=True)
