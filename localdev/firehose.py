"""Firehose's HTTP-endpoint delivery, as the stage's access-log stream does it (to the Moesif
collector in `make dev`): the request format, the access-key header, and delivery off the request path."""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid

log = logging.getLogger(__name__)

FIREHOSE_TIMEOUT_SECONDS = 5


class FirehoseDelivery:
    """Delivers access-log lines to an HTTP endpoint in Firehose's request format, off the
    request path (Firehose buffers too), one record per POST so records arrive promptly."""

    def __init__(self, url: str, access_key: str) -> None:
        self._url = url
        self._access_key = access_key
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="firehose-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=FIREHOSE_TIMEOUT_SECONDS + 1)

    def put(self, line: str) -> None:
        self._queue.put(line)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            request_id = str(uuid.uuid4())
            body = json.dumps({
                "requestId": request_id,
                "timestamp": int(time.time() * 1000),
                "records": [{"data": base64.b64encode((line + "\n").encode()).decode()}],
            }).encode()
            request = urllib.request.Request(self._url, data=body, method="POST", headers={
                "Content-Type": "application/json",
                "X-Amz-Firehose-Protocol-Version": "1.0",
                "X-Amz-Firehose-Request-Id": request_id,
                "X-Amz-Firehose-Access-Key": self._access_key,
            })
            try:
                urllib.request.urlopen(request, timeout=FIREHOSE_TIMEOUT_SECONDS).close()
            except (urllib.error.URLError, OSError) as error:
                log.warning("access-log delivery to %s failed: %s", self._url, error)
