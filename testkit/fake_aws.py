"""Fakes of the two AWS services Powertools talks to for Tollgate: the Secrets Manager client its
SecretsProvider calls, and an idempotency store with DynamoDBPersistenceLayer's semantics. Both
add latency and fail on demand like the port fakes (testkit.faults)."""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer, DataRecord

from testkit.faults import CallRecorder, FaultyFake


class FakeSecretsManager(FaultyFake):
    """The `get_secret_value` of a boto3 `secretsmanager` client, holding one JSON secret per id."""

    port = "secretsmanager"

    def __init__(self, secrets: dict[str, dict[str, str]], **kwargs: Any):
        super().__init__(**kwargs)
        self.secrets = secrets

    def get_secret_value(self, SecretId: str, **_options: Any) -> dict[str, Any]:  # noqa: N803 - boto3's name
        with self._call("get_secret_value", SecretId):
            return {"ARN": SecretId, "Name": SecretId, "SecretString": json.dumps(self.secrets[SecretId])}


class FakeIdempotencyStore(FaultyFake, BasePersistenceLayer):
    """Powertools' idempotency records in memory: a put succeeds only if no live record holds the
    key (an expired one, or an in-progress one past its in-progress expiry, is replaced), as the
    conditional PutItem of DynamoDBPersistenceLayer does."""

    port = "idempotency"

    def __init__(self, *, latency: float = 0.0, recorder: CallRecorder | None = None):
        FaultyFake.__init__(self, latency=latency, recorder=recorder)
        BasePersistenceLayer.__init__(self)
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._call("get_record", idempotency_key), self._lock:
            if idempotency_key not in self.records:
                raise IdempotencyItemNotFoundError
            return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        with self._call("put_record", data_record.idempotency_key), self._lock:
            existing = self.records.get(data_record.idempotency_key)
            if existing is not None and not self._replaceable(existing):
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
            self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        with self._call("update_record", data_record.idempotency_key), self._lock:
            self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._call("delete_record", data_record.idempotency_key), self._lock:
            self.records.pop(data_record.idempotency_key, None)

    @staticmethod
    def _replaceable(record: DataRecord) -> bool:
        now = time.time()
        if record.expiry_timestamp is not None and record.expiry_timestamp < now:
            return True
        in_progress_expiry = record.in_progress_expiry_timestamp
        return record.status == "INPROGRESS" and in_progress_expiry is not None and in_progress_expiry < now * 1000
