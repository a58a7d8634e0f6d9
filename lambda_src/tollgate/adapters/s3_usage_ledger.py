"""UsageLedger on S3: the objects Firehose backs every access-log record up to, one folder per UTC
hour (`ledger/YYYY/MM/DD/HH/`, contract.USAGE_LEDGER_*; the hour is when the object's oldest record
reached Firehose)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.ports.metering import UsageLedger
from tollgate.domain.usage import LedgerObject

_SERVICE = "S3"
_HOUR = 3600
# A record reaches Firehose after the call and waits up to a buffer interval (60 s) and Firehose's
# retries before it is written, in the folder of the oldest record of its object: an hour on either
# side of a period covers every object that can hold its calls.
_FOLDER_MARGIN_SECONDS = _HOUR


class S3UsageLedger(UsageLedger):
    """The ledger bucket through a boto3 `s3` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, bucket: str):
        self._client = client
        self._bucket = bucket

    def read(self, source: LedgerObject) -> bytes:
        body: bytes = call_aws(
            _SERVICE,
            f"read {source}",
            lambda: self._client.get_object(Bucket=source.bucket, Key=source.key)["Body"].read(),
        )
        return body

    def objects_between(self, start: int, end: int) -> list[LedgerObject]:
        objects = []
        for folder in hour_folders(start - _FOLDER_MARGIN_SECONDS, end + _FOLDER_MARGIN_SECONDS):
            objects += call_aws(_SERVICE, f"list s3://{self._bucket}/{folder}", partial(self._objects_in, folder))
        return objects

    def _objects_in(self, folder: str) -> list[LedgerObject]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=folder)
        return [LedgerObject(self._bucket, item["Key"]) for page in pages for item in page.get("Contents", [])]


def hour_folders(start: int, end: int) -> list[str]:
    """The ledger's hour folders from the one holding `start` to the one holding `end` (epoch seconds)."""
    return [
        contract.USAGE_LEDGER_PREFIX + datetime.fromtimestamp(hour, UTC).strftime(contract.USAGE_LEDGER_HOUR_FORMAT)
        for hour in range(start - start % _HOUR, end + 1, _HOUR)
    ]
