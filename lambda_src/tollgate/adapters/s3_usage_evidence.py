"""UsageEvidence on S3, in the ledger bucket (encrypted, private, TLS only; kept as long as the ledger):

    evidence/<customer>/<billed at, 20261203T101500Z>-<meter event identifier>.csv   one per meter event
    evidence-days/<customer>/<UTC day, 20261203>-<digest>.csv                       a closed day's events
    evidence-downloads/<customer>/<start>-<end>.csv                                 a period's file, a day

Names sort by the time their meter event is billed at, so a day, or a period, is ONE listing of the
customer's prefix from its start (StartAfter) up to its end: its cost grows with that customer's
objects only.

Why day files: a period's file made from the meter events' objects costs one GET per object, and a
steady caller has one a minute (43,200 a month: minutes on AWS, bench/evidence.py). So each closed
UTC day of a customer is compacted once into one object, made by the reporter on the customer's
first evidence of a later day (`compact`), or by a download that finds it missing. Its name carries
a digest of the names and ETags of the objects it was made from: a late object billed in a closed
day (a ledger object redriven from the dead letters days later), or any rewrite that changed bytes,
no longer matches the listing, so the day is read object by object again and its file remade. No
lock is needed: two makers of one day write the same bytes under the same name.

A period's file is its days' files (the closed days wholly inside it) and the objects of the rest
(the partial days at its edges, today), read in parallel (PARALLEL_READS) in name order into a
temporary file written back as one object (one PUT takes up to 5 GB: some 45 million rows); the
account page gets a presigned GET of it, valid contract.USAGE_EVIDENCE_URL_SECONDS, which downloads
as `usage-<start>-<end>.csv`. Presigning needs no call to AWS: the URL works for as long as the
function's own credentials and the URL's expiry both do.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.evidence import EvidenceBatch, PeriodFile, csv_header
from tollgate.domain.ports.metering import UsageEvidence

_SERVICE = "S3"
# Objects read at once when a period's or a day's file is made: S3 serves thousands of GETs per
# second per prefix; the function's network and CPU are the limit (bench/evidence.py measures it).
PARALLEL_READS = 64
DAY = 86_400
# How far back `compact` looks for closed days without a file: a billing period (at most 31 days).
COMPACT_DAYS = 31
_CHUNK = 1024 * 1024


def object_time(epoch_seconds: int) -> str:
    """The name part that sorts by time: 20261203T101500Z."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


def customer_prefix(customer_id: str) -> str:
    return f"{contract.USAGE_EVIDENCE_PREFIX}{customer_id}/"


def batch_key(batch: EvidenceBatch) -> str:
    return f"{customer_prefix(batch.customer_id)}{object_time(batch.billed_at)}-{batch.identifier}.csv"


def day_prefix(customer_id: str) -> str:
    return f"{contract.USAGE_EVIDENCE_DAYS_PREFIX}{customer_id}/"


def day_key(customer_id: str, day: int, digest: str) -> str:
    return f"{day_prefix(customer_id)}{object_time(day)[:8]}-{digest}.csv"


def period_key(customer_id: str, start: int, end: int) -> str:
    return f"{contract.USAGE_EVIDENCE_DOWNLOADS_PREFIX}{customer_id}/{object_time(start)}-{object_time(end)}.csv"


@dataclass(frozen=True)
class _Span:
    """A stretch of a customer's evidence: the objects billed in [start, end), and, for a closed day,
    the name its day file has (made) or must have (not made yet)."""

    start: int
    keys: tuple[str, ...]
    day_file: str | None = None  # a closed day's file name, for its objects' digest
    day_file_made: bool = False

    def reads(self) -> tuple[str, ...]:
        return (self.day_file,) if self.day_file_made and self.day_file else self.keys


class S3UsageEvidence(UsageEvidence):
    """The ledger bucket's evidence prefixes through a boto3 `s3` client (see aws_clients.AwsClients)."""

    def __init__(
        self, client: Any, bucket: str, parallel_reads: int = PARALLEL_READS, clock: Callable[[], float] = time.time
    ):
        self._client = client
        self._bucket = bucket
        self._parallel_reads = parallel_reads
        self._clock = clock

    def save(self, batch: EvidenceBatch) -> None:
        key = batch_key(batch)
        call_aws(
            _SERVICE,
            f"write s3://{self._bucket}/{key}",
            lambda: self._client.put_object(
                Bucket=self._bucket, Key=key, Body=batch.csv_rows(), ContentType="text/csv"
            ),
        )

    def compact(self, customer_id: str, now: int) -> int:
        today = now // DAY * DAY
        made = self._day_files(customer_id)
        since = max([today - COMPACT_DAYS * DAY, *(day + DAY for day in made)])
        spans = [span for span in self._spans(customer_id, since, today, today, made) if span.keys]
        missing = [span for span in spans if not span.day_file_made]
        self._concatenate(customer_id, missing, None, made)
        return len(missing)

    def period_file(self, customer_id: str, start: int, end: int) -> PeriodFile:
        made = self._day_files(customer_id)
        spans = self._spans(customer_id, start, end, int(self._clock()) // DAY * DAY, made)
        key = period_key(customer_id, start, end)
        with tempfile.TemporaryFile() as spool:
            spool.write(csv_header())
            rows = self._concatenate(customer_id, spans, spool, made)
            spool.seek(0)
            call_aws(
                _SERVICE,
                f"write s3://{self._bucket}/{key}",
                lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=spool, ContentType="text/csv"),
            )
        return PeriodFile(customer_id, start, end, key, rows, sum(len(span.keys) for span in spans))

    def download_url(self, file: PeriodFile) -> str:
        name = f"usage-{object_time(file.start)}-{object_time(file.end)}.csv"
        url: str = self._client.generate_presigned_url(
            "get_object",
            ExpiresIn=contract.USAGE_EVIDENCE_URL_SECONDS,
            Params={
                "Bucket": self._bucket,
                "Key": file.location,
                "ResponseContentType": "text/csv",
                "ResponseContentDisposition": f'attachment; filename="{name}"',
            },
        )
        return url

    def read(self, file: PeriodFile) -> Iterator[bytes]:
        body = call_aws(
            _SERVICE,
            f"read s3://{self._bucket}/{file.location}",
            lambda: self._client.get_object(Bucket=self._bucket, Key=file.location)["Body"],
        )
        yield from body.iter_chunks(_CHUNK)

    def _spans(self, customer_id: str, start: int, end: int, today: int, made: dict[int, list[str]]) -> list[_Span]:
        """[start, end) cut at UTC midnights, each piece listed (in parallel): the days wholly inside
        it and closed (before `today`) with the name of their day file, the rest without."""
        cuts = [start, *range((start + DAY - 1) // DAY * DAY, end, DAY), end]
        pieces = [(low, high) for low, high in itertools.pairwise(cuts) if low < high]
        with ThreadPoolExecutor(max_workers=min(len(pieces), self._parallel_reads) or 1) as pool:
            listed = list(pool.map(lambda piece: self._objects(customer_id, *piece), pieces))
        spans = []
        for (low, high), objects in zip(pieces, listed, strict=True):
            if low % DAY or high != low + DAY or high > today or not objects:
                spans.append(_Span(low, tuple(objects)))
                continue
            digest = hashlib.sha256("\n".join(f"{key} {etag}" for key, etag in objects.items()).encode()).hexdigest()
            name = day_key(customer_id, low, digest[:16])
            spans.append(_Span(low, tuple(objects), name, name in made.get(low, ())))
        return spans

    def _concatenate(self, customer_id: str, spans: list[_Span], out: Any, made: dict[int, list[str]]) -> int:
        """Reads the spans in order, in parallel, into `out` (when given); writes each closed day's file
        not made yet (removing that day's stale ones). The rows read."""
        reads = [(index, key) for index, span in enumerate(spans) for key in span.reads()]
        days: dict[int, io.BytesIO] = {
            index: io.BytesIO() for index, span in enumerate(spans) if span.day_file and not span.day_file_made
        }
        rows = 0
        with ThreadPoolExecutor(max_workers=self._parallel_reads) as pool:
            for (index, _), body in zip(reads, pool.map(lambda read: self._body(read[1]), reads), strict=True):
                rows += body.count(b"\n")
                if out is not None:
                    out.write(body)
                if index in days:
                    days[index].write(body)
        for index, day in days.items():
            self._write_day(customer_id, spans[index], day.getvalue(), made.get(spans[index].start, []))
        return rows

    def _write_day(self, customer_id: str, span: _Span, body: bytes, stale: list[str]) -> None:
        name = span.day_file or ""
        call_aws(
            _SERVICE,
            f"write s3://{self._bucket}/{name}",
            lambda: self._client.put_object(Bucket=self._bucket, Key=name, Body=body, ContentType="text/csv"),
        )
        for old in stale:
            call_aws(
                _SERVICE,
                f"remove the stale s3://{self._bucket}/{old}",
                lambda old=old: self._client.delete_object(Bucket=self._bucket, Key=old),
            )

    def _day_files(self, customer_id: str) -> dict[int, list[str]]:
        """The customer's day files by day (UTC midnight, epoch seconds)."""
        prefix = day_prefix(customer_id)
        files: dict[int, list[str]] = {}
        for key in call_aws(
            _SERVICE,
            f"list the evidence days of {customer_id}",
            lambda: [item["Key"] for item in self._listing(prefix, prefix)],
        ):
            day = calendar.timegm(time.strptime(key[len(prefix) : len(prefix) + 8], "%Y%m%d"))
            files.setdefault(day, []).append(key)
        return files

    def _objects(self, customer_id: str, start: int, end: int) -> dict[str, str]:
        """The customer's evidence objects billed in [start, end): name -> ETag, in name order."""
        prefix = customer_prefix(customer_id)
        first, stop = prefix + object_time(start), prefix + object_time(end)

        def listing() -> dict[str, str]:  # whole, inside call_aws: the pages are fetched as it goes
            pairs = ((item["Key"], item["ETag"]) for item in self._listing(prefix, first))
            return dict(itertools.takewhile(lambda pair: pair[0] < stop, pairs))

        return call_aws(_SERVICE, f"list the evidence of {customer_id}", listing)

    def _listing(self, prefix: str, start_after: str) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, StartAfter=start_after
        )
        for page in pages:
            yield from page.get("Contents", [])

    def _body(self, key: str) -> bytes:
        body: bytes = call_aws(
            _SERVICE,
            f"read s3://{self._bucket}/{key}",
            lambda: self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read(),
        )
        return body
