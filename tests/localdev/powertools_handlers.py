"""Two tiny Lambda handlers built like Tollgate's (Powertools resolver with a CORS policy, Logger
with inject_lambda_context), for tests/localdev/test_lambda_runtime.py. `slow` holds its
invocation until `release` is set, so a test can run `quick` in the middle of it."""

from __future__ import annotations

import io
import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

ORIGIN = "http://127.0.0.1:18000"
LOG_STREAM = io.StringIO()
logger = Logger(service="tollgate-runtime-test", stream=LOG_STREAM)
started, release = threading.Event(), threading.Event()

slow_app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=ORIGIN))
quick_app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=ORIGIN))


@slow_app.post("/slow")
def _slow() -> Response:
    started.set()
    release.wait(timeout=10)
    logger.info("Slow one answered", extra={"apiKeyId": "key-id-1", "apikey": "the-key-value"})
    return Response(201, body="{}")


@quick_app.post("/quick")
def _quick() -> Response:
    return Response(200, body="{}")


@logger.inject_lambda_context(clear_state=True)
def slow(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(outcome="applied")
    return slow_app.resolve(event, context)


def quick(event: dict, context: LambdaContext) -> dict:
    return quick_app.resolve(event, context)


def event(path: str, origin: str | None) -> dict:
    headers = {"Origin": origin} if origin else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {"requestId": "r", "stage": "prod"},
        "body": "{}",
    }
