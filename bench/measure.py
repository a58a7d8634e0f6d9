"""The measurements behind `python -m bench` (see bench/__main__.py)."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from types import ModuleType

from tests.lambda_src.fakes import CallRecorder, FakePorts
from tests.lambda_src.lambda_events import LambdaContext, api_gateway_event
from tollgate import contract
from tollgate.domain.models import Registrant
from tollgate.domain.registration import RegistrationService

HANDLER_MODULE = "tollgate.handlers.register"
# What the handler needs to import; nothing is called on these (the fakes replace every adapter).
BENCH_ENVIRONMENT = {
    contract.ENV_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench",
    contract.ENV_ACCOUNTS_TABLE: "bench-accounts",
    contract.ENV_IDEMPOTENCY_TABLE: "bench-idempotency",
    contract.ENV_USAGE_PLAN_ID: "bench-plan",
    contract.ENV_STRIPE_PRICE_ID: "price_bench",
    contract.ENV_REQUIRE_PAYMENT_METHOD: "false",
    contract.ENV_ALLOWED_ORIGIN: "https://signup.example.com",
    contract.ENV_SIGNUP_URL: "https://signup.example.com/",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class LatencyFigures:
    register_p50_ms: float
    register_p95_ms: float
    seed_order_p50_ms: float
    critical_path_calls: int
    calls_per_sign_up: int


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def register_latency(handler_module: ModuleType, latency_s: float, runs: int) -> LatencyFigures:
    """Time `runs` sign-ups through the real handler with every port a fake adding `latency_s`,
    and the seed's sequential order on the same fakes."""
    recorder = CallRecorder()
    ports = FakePorts.create(latency=latency_s, recorder=recorder)
    service = RegistrationService(ports.api_keys, ports.billing, ports.analytics, ports.accounts)
    handler_module.registration_service = lambda: service
    durations, chains, calls = [], [], []
    for _ in range(runs):
        recorder.clear()
        event = api_gateway_event(json.dumps({"email": f"{uuid.uuid4().hex}@example.com", "firstname": "Ann",
                                              "lastname": "Lee"}))
        started = time.perf_counter()
        response = handler_module.handler(event, LambdaContext())
        durations.append((time.perf_counter() - started) * 1000)
        if response["statusCode"] != 201:
            raise RuntimeError(f"the handler answered {response['statusCode']}: {response['body']}")
        chains.append(recorder.longest_sequential_chain())
        calls.append(len(recorder.records))
    seed = [seed_order_ms(ports) for _ in range(runs)]
    return LatencyFigures(
        register_p50_ms=statistics.median(durations),
        register_p95_ms=percentile(durations, 0.95),
        seed_order_p50_ms=statistics.median(seed),
        critical_path_calls=round(statistics.median(chains)),
        calls_per_sign_up=round(statistics.median(calls)),
    )


def seed_order_ms(ports: FakePorts) -> float:
    """The seed tutorial's flow: six calls, one after another, no reservation, no ledger."""
    registrant = Registrant(f"{uuid.uuid4().hex}@example.com", "Ann", "Lee")
    started = time.perf_counter()
    key = ports.api_keys.create_key("seed", "")
    customer_id = ports.billing.create_customer(registrant, key.id, uuid.uuid4().hex)
    subscription_id = ports.billing.subscribe(customer_id, uuid.uuid4().hex)
    ports.analytics.upsert_company(subscription_id, {})
    ports.analytics.upsert_user(key.id, subscription_id, {})
    ports.api_keys.attach_to_plan(key.id)
    return (time.perf_counter() - started) * 1000
