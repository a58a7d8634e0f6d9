"""API Gateway-shaped events, a Lambda context and deployed functions for invoking the handlers in tests."""

from __future__ import annotations

import base64
import importlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from testkit.fake_ports import TEST_PLANS
from tollgate import contract
from tollgate.config import RuntimeConfig
from tollgate.wiring import Wiring, installed

SIGNUP_ORIGIN = "http://127.0.0.1:8000"
KEY_OWNER = "tollgate-test/prod"  # the test deployment's value of contract.API_KEY_OWNER_TAG
# A complete function environment naming no real resource: for handlers whose ports are all fakes.
FUNCTION_ENVIRONMENT = {
    contract.ENV_STRIPE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe",
    contract.ENV_MOESIF_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:moesif",
    contract.ENV_ACCOUNTS_TABLE: "accounts",
    contract.ENV_KEYS_TABLE: "keys",
    contract.ENV_CREDITS_TABLE: "credits",
    contract.ENV_IDEMPOTENCY_TABLE: "idempotency",
    contract.ENV_PLANS: TEST_PLANS.to_json(),
    contract.ENV_KEY_OWNER: KEY_OWNER,
    contract.ENV_SIGNUP_URL: SIGNUP_ORIGIN + "/",
    contract.ENV_STAGE: "prod",
    contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(contract.DEFAULT_CANCELED_KEY_RETENTION_DAYS),
}
REGISTER_MODULE = "tollgate.handlers.register"


class LambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name = "tollgate-register"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tollgate-register"
    memory_limit_in_mb = 256
    aws_request_id = "test-invocation"
    log_group_name = "/aws/lambda/tollgate-register"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 28_000


class ScheduledInvocation(LambdaContext):
    """What Lambda hands a scheduled function (EventBridge Scheduler's invoke): its own request id
    and its whole timeout ahead."""

    function_name = "tollgate-scheduled"

    def __init__(self, timeout_seconds: int) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._timeout_seconds = timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_seconds * 1000


def api_gateway_event(
    body: str | bytes | None,
    *,
    method: str = "POST",
    path: str = contract.ROUTE_REGISTER,
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A REST API (v1) proxy event as API Gateway sends it to the register function."""
    request_id = str(uuid.uuid4())
    if isinstance(body, bytes):
        body, base64_encoded = base64.b64encode(body).decode(), True
    all_headers = {"Content-Type": "application/json", "Origin": SIGNUP_ORIGIN, **(headers or {})}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "accountId": "123456789012",
            "apiId": "testapi",
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": 1_800_000_000_000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    """The Access-Control-* headers of an answer: none, as no function answers for another origin
    (the signup page calls its own `/api/...`; machine clients are no browsers)."""
    return {name: value for name, value in headers.items() if name.lower().startswith("access-control-")}


def invoke(
    module: ModuleType | DeployedFunction, event: dict[str, Any]
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    """Call the handler; return status, headers and the parsed JSON body."""
    response = module.handler(event, LambdaContext())
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(values)
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], headers, body


@dataclass(frozen=True)
class DeployedFunction:
    """A handler module as one deployed function runs it: its own Wiring (built from the
    environment the stack would set), installed for each invocation, so several functions with
    different settings can be called side by side in one test process."""

    module: ModuleType
    wiring: Wiring

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with _invocation_of(self.wiring):
            return self.module.handler(event, context)

    @property
    def logger(self) -> Any:
        return self.module.logger

    @contextmanager
    def captured_logs(self) -> Iterator[io.StringIO]:
        """What the function's Powertools Logger writes meanwhile (stdout, i.e. CloudWatch, in Lambda)."""
        buffer = io.StringIO()
        previous = self.logger.registered_handler.setStream(buffer)
        try:
            yield buffer
        finally:
            self.logger.registered_handler.setStream(previous)


_in_flight: dict[int, tuple[int, AbstractContextManager]] = {}  # id(wiring) -> (invocations, its installation)
_in_flight_lock = threading.Lock()


@contextmanager
def _invocation_of(wiring: Wiring) -> Iterator[None]:
    """`wiring` installed while any invocation of it runs: a test's threads invoking one function
    at once (concurrent sign-ups) share one installation, undone when the last one ends (each
    thread installing and restoring on its own would uninstall it under the others)."""
    with _in_flight_lock:
        count, installation = _in_flight.get(id(wiring), (0, None))
        if installation is None:
            installation = installed(wiring)
            installation.__enter__()
        _in_flight[id(wiring)] = (count + 1, installation)
    try:
        yield
    finally:
        with _in_flight_lock:
            count, installation = _in_flight.pop(id(wiring))
            if count > 1:
                _in_flight[id(wiring)] = (count - 1, installation)
            else:
                installation.__exit__(None, None, None)


def deployed(module_name: str, environment: dict[str, str], **replacements: object) -> DeployedFunction:
    """The handler module `module_name` deployed with `environment`; `replacements` swap any
    Wiring field (a fake port, say)."""
    config = RuntimeConfig.from_environ(environment)
    return DeployedFunction(importlib.import_module(module_name), Wiring(config, **replacements))


def sign_up(register: DeployedFunction) -> dict[str, Any]:
    """A fresh customer signed up through the deployed register handler: its 201 body."""
    body = json.dumps({"email": f"{uuid.uuid4().hex[:10]}@example.com", "firstname": "Ann", "lastname": "Lee"})
    status, _, created = invoke(register, api_gateway_event(body))
    assert status == 201 and created is not None, created
    return created
