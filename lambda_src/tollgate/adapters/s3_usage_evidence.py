"""UsageEvidence on S3, in the ledger bucket (encrypted, private, TLS only; kept as long as the ledger):

    evidence/<customer>/<billed at, 20261203T101500Z>-<meter event identifier>.csv   one per meter event
    evidence-downloads/<customer>/<start>-<end>.csv                                 a period's file, a day

Names sort by the time their meter event is billed at, so a period is ONE listing of the customer's
prefix from `<start>` (StartAfter) up to `<end>`: its cost grows with that customer's objects only.
A period's file is made on request: its objects are read in parallel (PARALLEL_READS), in name
order, into a temporary file written back as one object (one PUT takes up to 5 GB: some 45 million
rows); the
account page gets a presigned GET of it, valid contract.USAGE_EVIDENCE_URL_SECONDS, which downloads
as `usage-<start>-<end>.csv`. Presigning needs no call to AWS: the URL works for as long as the
function's own credentials and the URL's expiry both do.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.evidence import EvidenceBatch, PeriodFile, csv_header
from tollgate.domain.ports.metering import UsageEvidence

_SERVICE = "S3"
# Objects read at once when a period's file is made: S3 serves thousands of GETs per second per
# prefix; the function's network and CPU are the limit (bench/evidence.py measures it).
PARALLEL_READS = 64
_CHUNK = 1024 * 1024


def object_time(epoch_seconds: int) -> str:
    """The name part that sorts by time: 20261203T101500Z."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


def customer_prefix(customer_id: str) -> str:
    return f"{contract.USAGE_EVIDENCE_PREFIX}{customer_id}/"


def batch_key(batch: EvidenceBatch) -> str:
    return f"{customer_prefix(batch.customer_id)}{object_time(batch.billed_at)}-{batch.identifier}.csv"


def period_key(customer_id: str, start: int, end: int) -> str:
    return f"{contract.USAGE_EVIDENCE_DOWNLOADS_PREFIX}{customer_id}/{object_time(start)}-{object_time(end)}.csv"


class S3UsageEvidence(UsageEvidence):
    """The ledger bucket's evidence prefixes through a boto3 `s3` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, bucket: str, parallel_reads: int = PARALLEL_READS):
        self._client = client
        self._bucket = bucket
        self._parallel_reads = parallel_reads

    def save(self, batch: EvidenceBatch) -> None:
        key = batch_key(batch)
        call_aws(_SERVICE, f"write s3://{self._bucket}/{key}", lambda: self._client.put_object(
            Bucket=self._bucket, Key=key, Body=batch.csv_rows(), ContentType="text/csv"))

    def period_file(self, customer_id: str, start: int, end: int) -> PeriodFile:
        keys = call_aws(_SERVICE, f"list the evidence of {customer_id}", lambda: self._keys(customer_id, start, end))
        key = period_key(customer_id, start, end)
        rows = 0
        with tempfile.TemporaryFile() as spool:
            spool.write(csv_header())
            with ThreadPoolExecutor(max_workers=self._parallel_reads) as pool:
                for body in pool.map(self._body, keys):
                    spool.write(body)
                    rows += body.count(b"\n")
            spool.seek(0)
            call_aws(_SERVICE, f"write s3://{self._bucket}/{key}", lambda: self._client.put_object(
                Bucket=self._bucket, Key=key, Body=spool, ContentType="text/csv"))
        return PeriodFile(customer_id, start, end, key, rows, len(keys))

    def download_url(self, file: PeriodFile) -> str:
        name = f"usage-{object_time(file.start)}-{object_time(file.end)}.csv"
        return self._client.generate_presigned_url("get_object", ExpiresIn=contract.USAGE_EVIDENCE_URL_SECONDS, Params={
            "Bucket": self._bucket, "Key": file.location, "ResponseContentType": "text/csv",
            "ResponseContentDisposition": f'attachment; filename="{name}"'})

    def read(self, file: PeriodFile) -> Iterator[bytes]:
        body = call_aws(_SERVICE, f"read s3://{self._bucket}/{file.location}",
                        lambda: self._client.get_object(Bucket=self._bucket, Key=file.location)["Body"])
        yield from body.iter_chunks(_CHUNK)

    def _keys(self, customer_id: str, start: int, end: int) -> list[str]:
        prefix = customer_prefix(customer_id)
        first, stop = prefix + object_time(start), prefix + object_time(end)
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix,
                                                                        StartAfter=first)
        keys: list[str] = []
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"] >= stop:
                    return keys
                keys.append(item["Key"])
        return keys

    def _body(self, key: str) -> bytes:
        return call_aws(_SERVICE, f"read s3://{self._bucket}/{key}",
                        lambda: self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read())
