"""The backend secret as a backend checks it: which values of the gateway's secret header
(contract.BACKEND_SECRET_HEADER) it accepts.

During a rotation the stage still sends the previous value until the deploy that pins the new
version is done, so both the current and the previous version are accepted (Secrets Manager's
AWSCURRENT and AWSPREVIOUS stages). Values are cached; an unknown value re-reads the secret, at
most once every REFRESH_AFTER_MISS_SECONDS, so a new value is accepted as soon as it is put while a
flood of wrong ones costs no more reads.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

from tollgate.adapters.aws_clients import answer, call_aws

ACCEPTED_STAGES = ("AWSCURRENT", "AWSPREVIOUS")
CACHE_SECONDS = 300
REFRESH_AFTER_MISS_SECONDS = 10


class OriginSecret:
    """Checks a presented header value against the secret `secret_arn` (through a boto3
    `secretsmanager` client)."""

    def __init__(self, client: Any, secret_arn: str, clock: Callable[[], float] = time.monotonic):
        self._client = client
        self._secret_arn = secret_arn
        self._clock = clock
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._read_at = float("-inf")

    def accepts(self, presented: str | None) -> bool:
        """Whether `presented` is the current or the previous value (constant-time comparisons).
        Raises DownstreamError when Secrets Manager cannot be read."""
        if not presented:
            return False
        if self._matches(presented, self._accepted(max_age=CACHE_SECONDS)):
            return True
        return self._matches(presented, self._accepted(max_age=REFRESH_AFTER_MISS_SECONDS))

    @staticmethod
    def _matches(presented: str, values: tuple[str, ...]) -> bool:
        return any(hmac.compare_digest(presented.encode(), value.encode()) for value in values)

    def _accepted(self, max_age: float) -> tuple[str, ...]:
        with self._lock:
            if self._clock() - self._read_at >= max_age:
                self._values = tuple(value for value in map(self._read, ACCEPTED_STAGES) if value)
                self._read_at = self._clock()
            return self._values

    def _read(self, stage: str) -> str | None:
        never_rotated = {"ResourceNotFoundException": answer(None)} if stage != ACCEPTED_STAGES[0] else {}
        secret = call_aws(
            "Secrets Manager",
            f"read backend secret ({stage})",
            self._client.get_secret_value,
            expected=never_rotated,
            SecretId=self._secret_arn,
            VersionStage=stage,
        )
        return None if secret is None else secret["SecretString"]  # None: never rotated, no previous value
