"""The stage's access-log stream, as Firehose runs it: HTTP-endpoint delivery to the Moesif collector
(the request format, the access-key header, off the request path) and, independently, the S3
backup of every record: the usage ledger (GZIP objects under `ledger/<UTC hour>/`, written every
few seconds; Firehose buffers 60 s)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from tollgate import contract

log = logging.getLogger(__name__)

FIREHOSE_TIMEOUT_SECONDS = 5
LEDGER_FLUSH_SECONDS = 2  # Firehose's S3 backup waits 60 s; make dev shows usage sooner


class FirehoseDelivery:
    """Delivers access-log lines to an HTTP endpoint in Firehose's request format, off the
    request path (Firehose buffers too), one record per POST so records arrive promptly."""

    def __init__(self, url: str, access_key: str, ledger: LedgerBackup | None = None) -> None:
        self._url = url
        self._access_key = access_key
        self._ledger = ledger
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="firehose-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if self._ledger is not None:
            self._ledger.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=FIREHOSE_TIMEOUT_SECONDS + 1)
        if self._ledger is not None:
            self._ledger.stop()

    def put(self, line: str) -> None:
        self._queue.put(line)
        if self._ledger is not None:
            self._ledger.put(line)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            request_id = str(uuid.uuid4())
            body = json.dumps(
                {
                    "requestId": request_id,
                    "timestamp": int(time.time() * 1000),
                    "records": [{"data": base64.b64encode((line + "\n").encode()).decode()}],
                }
            ).encode()
            request = urllib.request.Request(
                self._url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-Amz-Firehose-Protocol-Version": "1.0",
                    "X-Amz-Firehose-Request-Id": request_id,
                    "X-Amz-Firehose-Access-Key": self._access_key,
                },
            )
            try:
                urllib.request.urlopen(request, timeout=FIREHOSE_TIMEOUT_SECONDS).close()
            except (urllib.error.URLError, OSError) as error:
                log.warning("access-log delivery to %s failed: %s", self._url, error)


class LedgerBackup:
    """The S3 backup of every record ("all data" mode): every LEDGER_FLUSH_SECONDS, the records
    received since are written as one GZIP object, newline-delimited, named as Firehose names its
    objects (`ledger/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, the time being the
    oldest record's arrival). S3 then announces the object, as it does in AWS."""

    def __init__(self, s3: Any, bucket: str, stream_name: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._stream_name = stream_name
        self._lines: list[str] = []
        self._oldest: float | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="firehose-ledger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=FIREHOSE_TIMEOUT_SECONDS + LEDGER_FLUSH_SECONDS)

    def put(self, line: str) -> None:
        with self._lock:
            self._oldest = self._oldest or time.time()
            self._lines.append(line)

    def flush(self) -> str | None:
        """Write what arrived since the last flush; its key, or None when nothing did."""
        with self._lock:
            lines, oldest, self._lines, self._oldest = self._lines, self._oldest, [], None
        if not lines or oldest is None:
            return None
        moment = datetime.fromtimestamp(oldest, UTC)
        key = (
            contract.USAGE_LEDGER_PREFIX
            + moment.strftime(contract.USAGE_LEDGER_HOUR_FORMAT)
            + f"{self._stream_name}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"
        )
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=gzip.compress(("\n".join(lines) + "\n").encode()))
        except Exception:
            with self._lock:  # kept for the next flush, as Firehose retries its S3 writes
                self._lines, self._oldest = lines + self._lines, oldest
            raise
        return key

    def _run(self) -> None:
        while not self._stopping.wait(LEDGER_FLUSH_SECONDS):
            self._flush_logging_failures()
        self._flush_logging_failures()

    def _flush_logging_failures(self) -> None:
        try:
            self.flush()
        except Exception as error:  # noqa: BLE001 - the emulated S3 went away (make dev stopping) or hiccuped
            log.warning("writing the usage ledger to s3://%s failed: %s", self._bucket, error)
