"""`make dev`'s console: human-readable lines, one per message, never a JSON document.

- make dev's own messages (loggers `localdev.*`): INFO and up. Other libraries: warnings only.
- The functions' records: Powertools' Logger writes one JSON line per record through a stdlib
  logger named after the function's service, whose handler carries a Powertools formatter
  (subclass of `aws_lambda_powertools.logging.formatter.BasePowertoolsFormatter`, the class the
  Logger docs' "bring your own formatter" section builds on; the level also follows
  POWERTOOLS_LOG_LEVEL). FunctionLogs finds those handlers by that formatter class, never by a
  handler module's attribute names, and prints each record as `time level service: message
  key=value...` instead. The Powertools formatter stays in place, so `append_keys` and
  `inject_lambda_context` work as in Lambda. Shown: WARNING and up by default, every record with
  `make dev ARGS=--log-requests`.
- One line per API request from the local gateway (REQUEST_LOG), only with --log-requests.

Key values never reach the console: the handlers log ids only, and a record key whose name says
api key, secret, password or token is masked all the same.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter

REQUEST_LOG = logging.getLogger("localdev.requests")
_LINE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_TIME_FORMAT = "%H:%M:%S"
# What Powertools adds to every record (its standard keys); the rest are the handler's own keys.
_POWERTOOLS_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "sampling_rate",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)
_SECRET_KEY_NAME = re.compile(r"api[-_]?key$|secret|password|token$", re.IGNORECASE)


class FunctionLogs:
    """The functions' Powertools loggers, shown at `level` as one human-readable line per record."""

    def __init__(self, level: int) -> None:
        self.level = level

    def adopt_powertools_loggers(self) -> None:
        """Give every Powertools handler of this process a one-line form and `level` (idempotent:
        the local runtime calls it after each import and invocation, since a handler module may
        create its Logger at import or lazily)."""
        for logger in list(logging.root.manager.loggerDict.values()):
            if not isinstance(logger, logging.Logger):
                continue
            structured = [
                handler for handler in logger.handlers if isinstance(handler.formatter, BasePowertoolsFormatter)
            ]
            for handler in structured:
                if not isinstance(handler, _OneLinePerRecord):
                    logger.removeHandler(handler)
                    logger.addHandler(_OneLinePerRecord(handler))
            if structured:
                logger.setLevel(self.level)
                logger.propagate = False  # the root handler would print the record a second time


class _OneLinePerRecord(logging.StreamHandler):
    """Writes where the Powertools handler wrote, with its formatter (and the keys appended to
    it), turning the JSON document into one line."""

    def __init__(self, structured: logging.Handler) -> None:
        super().__init__(getattr(structured, "stream", sys.stdout))
        self.setFormatter(structured.formatter)
        self.setLevel(structured.level)
        for record_filter in structured.filters:
            self.addFilter(record_filter)

    def format(self, record: logging.LogRecord) -> str:
        document = super().format(record)
        try:
            fields = json.loads(document)
        except ValueError:
            return document
        return one_line(fields, record.created) if isinstance(fields, dict) else document


def one_line(fields: dict[str, Any], created: float) -> str:
    """`12:30:52 INFO    tollgate-register: Registered  apiKeyId=... status=active`, then the
    exception's traceback, if any, on the lines below."""
    own_keys = "  ".join(
        f"{name}={_shown(name, value)}" for name, value in fields.items() if name not in _POWERTOOLS_KEYS
    )
    line = (
        f"{time.strftime(_TIME_FORMAT, time.localtime(created))} {fields.get('level', ''):<7} "
        f"{fields.get('service', 'function')}: {fields.get('message', '')}"
    )
    line += f"  {own_keys}" if own_keys else ""
    return line + (f"\n{fields['exception']}" if fields.get("exception") else "")


def _shown(name: str, value: Any) -> str:
    if _SECRET_KEY_NAME.search(name):
        return "[masked]"
    if isinstance(value, str) and value and not any(character.isspace() for character in value):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def configure_console(log_requests: bool) -> FunctionLogs:
    """Human-readable console logging for this process (make dev); returns the functions' view
    for the local runtime. POWERTOOLS_LOG_LEVEL gives a Logger created later the same level."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(_LINE_FORMAT, _TIME_FORMAT))
    logging.root.addHandler(handler)
    logging.root.setLevel(logging.WARNING)
    logging.getLogger("localdev").setLevel(logging.INFO)
    level = logging.INFO if log_requests else logging.WARNING
    REQUEST_LOG.setLevel(level)
    os.environ["POWERTOOLS_LOG_LEVEL"] = logging.getLevelName(level)
    return FunctionLogs(level)
