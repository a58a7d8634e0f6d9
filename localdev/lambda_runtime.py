"""The local stand-in for the Lambda runtime: the real handlers, imported and invoked in this process.

Lambda runs one invocation at a time per execution environment, and the handlers rely on it:
Powertools' event handler keeps the current event in a class attribute shared by every resolver
of the process (`BaseRouter.current_event = ...` in `ApiGatewayResolver.resolve`). Here every
function lives in one process, so invocations of all functions take turns: a webhook delivered
while a sign-up runs would otherwise answer the sign-up with the webhook's event (seen as a
register answer carrying the webhook's event). Nothing here invokes a function from inside
another, so taking turns cannot deadlock; Stripe's webhooks arrive after Stripe's answer.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from localdev.console import FunctionLogs

LAMBDA_TIMEOUT_SECONDS = 29  # API Gateway's integration timeout: no answer comes later than this

_ONE_INVOCATION_AT_A_TIME = threading.Lock()


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, handler_path: str, timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS) -> None:
        name = handler_path.rsplit(".", 2)[-2]
        self.function_name = f"tollgate-dev-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "localdev"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One Lambda function: imported on first use (its cold start), invoked with a LambdaContext
    giving it `timeout_seconds` (the stack's timeout; API Gateway's 29 s for the HTTP functions).

    `logs` (make dev's console) gets the functions' Powertools loggers after every import and
    invocation, whenever the handler creates them.
    """

    def __init__(
        self, handler_path: str, logs: FunctionLogs | None = None, timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS
    ) -> None:
        self.handler_path = handler_path
        self._logs = logs
        self._timeout_seconds = timeout_seconds
        self._handler: Callable[[dict, Any], dict] | None = None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with _ONE_INVOCATION_AT_A_TIME:
            if self._handler is None:
                module_name, function_name = self.handler_path.rsplit(".", 1)
                self._handler = getattr(importlib.import_module(module_name), function_name)
                self._adopt_logs()
            try:
                return self._handler(event, LambdaContext(self.handler_path, self._timeout_seconds))
            finally:
                self._adopt_logs()  # a handler may create its loggers lazily, in its first invocation

    def _adopt_logs(self) -> None:
        if self._logs is not None:
            self._logs.adopt_powertools_loggers()
