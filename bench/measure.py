"""The measurements behind `python -m bench` (see bench/__main__.py)."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from types import ModuleType

from testkit.fake_aws import FakeIdempotencyStore, FakeSecretsManager
from testkit.fake_ports import FakePorts
from testkit.faults import CallRecorder
from testkit.lambda_events import LambdaContext, api_gateway_event
from tollgate import contract, wiring
from tollgate.adapters.secrets import SecretStore
from tollgate.config import RuntimeConfig
from tollgate.domain.models import Registrant
from tollgate.plans import Plan, PlanCatalog
from tollgate.wiring import Wiring

HANDLER_MODULE = "tollgate.handlers.register"
# One paid plan, as a deployment of the single-plan settings.
BENCH_PLANS = PlanCatalog((Plan("standard", "Standard", "bench-plan", "price_bench", False, 10_000, "MONTH"),))
# The function's settings; nothing is called on these names (fakes replace every adapter).
BENCH_ENVIRONMENT = {
    contract.ENV_STRIPE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-stripe",
    contract.ENV_MOESIF_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-moesif",
    contract.ENV_ACCOUNTS_TABLE: "bench-accounts",
    contract.ENV_KEYS_TABLE: "bench-keys",
    contract.ENV_CREDITS_TABLE: "bench-credits",
    contract.ENV_IDEMPOTENCY_TABLE: "bench-idempotency",
    contract.ENV_PLANS: BENCH_PLANS.to_json(),
    contract.ENV_KEY_OWNER: "bench/prod",
    contract.ENV_SIGNUP_URL: "https://signup.example.com/",
    contract.ENV_STAGE: "prod",
    contract.ENV_CANCELED_KEY_RETENTION_DAYS: str(contract.DEFAULT_CANCELED_KEY_RETENTION_DAYS),
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",  # the figures, not the functions' EMF documents, go to stdout
}
BENCH_STRIPE_SECRET = {
    contract.SECRET_FIELD_STRIPE_SECRET_KEY: "sk_test_bench",
    contract.SECRET_FIELD_STRIPE_WEBHOOK_SECRET: "whsec_bench",
}
BENCH_MOESIF_SECRET = {contract.SECRET_FIELD_MOESIF_APPLICATION_ID: "bench-moesif-application-id"}


@dataclass(frozen=True)
class LatencyFigures:
    register_p50_ms: float
    register_p95_ms: float
    idempotent_p50_ms: float  # with Idempotency-Key: the idempotency store's put and update on the path
    first_request_ms: float  # the first sign-up of a process: the secret read from Secrets Manager too
    seed_order_p50_ms: float
    critical_path_calls: int
    calls_per_sign_up: int


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def register_latency(handler_module: ModuleType, latency_s: float, runs: int) -> LatencyFigures:
    """Time `runs` sign-ups through the real handler and wiring, every external call a fake adding
    `latency_s`: the ports, the Secrets Manager read (Powertools caches it, so only the first
    request of a process pays it) and the idempotency store. Also the seed's sequential order."""
    recorder = CallRecorder()
    ports = FakePorts.create(latency=latency_s, recorder=recorder)
    config = RuntimeConfig.from_environ(BENCH_ENVIRONMENT)
    secrets_manager = FakeSecretsManager(
        {config.stripe_secret_arn: BENCH_STRIPE_SECRET, config.moesif_secret_arn: BENCH_MOESIF_SECRET},
        latency=latency_s,
        recorder=recorder,
    )
    bench_wiring = Wiring(
        config,
        api_keys=ports.api_keys,
        billing=ports.billing,
        analytics=ports.analytics,
        accounts=ports.accounts,
        key_items=ports.key_items,
        key_pools=ports.key_pools,
        stripe_secret=SecretStore(config.stripe_secret_arn, secrets_manager),
        moesif_secret=SecretStore(config.moesif_secret_arn, secrets_manager),
        idempotency_store=FakeIdempotencyStore(latency=latency_s, recorder=recorder),
    )

    def sign_up(idempotency_key: str | None = None) -> float:
        headers = {contract.IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        event = api_gateway_event(
            json.dumps({"email": f"{uuid.uuid4().hex}@example.com", "firstname": "Ann", "lastname": "Lee"}),
            headers=headers,
        )
        started = time.perf_counter()
        response = handler_module.handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        if response["statusCode"] != 201:
            raise RuntimeError(f"the handler answered {response['statusCode']}: {response['body']}")
        return elapsed

    durations, idempotent, chains, calls = [], [], [], []
    with wiring.installed(bench_wiring):
        first_request_ms = sign_up()
        for _ in range(runs):
            recorder.clear()
            durations.append(sign_up())
            chains.append(recorder.longest_sequential_chain())
            calls.append(len(recorder.records))
        idempotent = [sign_up(uuid.uuid4().hex) for _ in range(runs)]
    seed = [seed_order_ms(ports) for _ in range(runs)]
    return LatencyFigures(
        register_p50_ms=statistics.median(durations),
        register_p95_ms=percentile(durations, 0.95),
        idempotent_p50_ms=statistics.median(idempotent),
        first_request_ms=first_request_ms,
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
    subscription_id = ports.billing.subscribe(customer_id, BENCH_PLANS.default.price_id or "", uuid.uuid4().hex)
    ports.analytics.upsert_company(subscription_id, {})
    ports.analytics.upsert_user(key.id, subscription_id, {})
    ports.api_keys.attach_to_plan(key.id, BENCH_PLANS.default.usage_plan_id)
    return (time.perf_counter() - started) * 1000
