"""Sign-ups per second, free (pooled) and paid, on fakes whose CreateApiKey allows what API Gateway
allows: 5 a second per account and region (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).

Each concurrent "function" is one RegistrationService on the shared fakes, every call adding `latency_s`,
signing up one registrant at a time as long as the measurement lasts, on real time (the paid sign-ups'
backoff sleeps for real). A free plan's sign-up makes no API Gateway call (tollgate.domain.key_pools), so
its rate is bounded by the calls' latency and the functions running; a paid one waits out CreateApiKey's
limit (tollgate.domain.usage_keys)."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from testkit.fake_ports import POOLED_PLANS, FakeApiKeys, FakePorts
from tollgate.domain.errors import DownstreamError, Throttled
from tollgate.domain.key_pools import KeyPoolProvisioner
from tollgate.domain.models import IssuedKey, Registrant
from tollgate.domain.registration import CONCURRENT_CALLS, RegistrationService
from tollgate.domain.usage_keys import UsageKeys

CREATE_API_KEY_PER_SECOND = 5


class RateLimitedApiKeys(FakeApiKeys):
    """FakeApiKeys whose create_key answers TooManyRequests beyond `per_second` (a token bucket holding
    one second's worth, as API Gateway's account-level limits do)."""

    def __init__(self, per_second: float = CREATE_API_KEY_PER_SECOND, **kwargs: object):
        super().__init__(**kwargs)
        self._per_second = per_second
        self._tokens = per_second
        self._refilled = time.monotonic()
        self._bucket = threading.Lock()
        self.throttled = 0

    def create_key(self, name: str, description: str) -> IssuedKey:
        with self._bucket:
            now = time.monotonic()
            self._tokens = min(self._per_second, self._tokens + (now - self._refilled) * self._per_second)
            self._refilled = now
            allowed = self._tokens >= 1
            if allowed:
                self._tokens -= 1
            else:
                self.throttled += 1
        if not allowed:
            raise Throttled("API Gateway", "create API key failed (TooManyRequestsException)")
        return super().create_key(name, description)


@dataclass(frozen=True)
class SignUpRate:
    plan_id: str
    signed_up: int
    refused: int  # answered 503 (the wait would have exceeded the function's budget)
    seconds: float
    gateway_keys: int  # API Gateway keys existing afterwards (the pool's included)
    throttled: int  # CreateApiKey calls API Gateway refused for its rate

    @property
    def per_second(self) -> float:
        return self.signed_up / self.seconds


def sign_up_rate(plan_id: str, *, functions: int, seconds: float, latency_s: float) -> SignUpRate:
    """Sign-ups on `plan_id` by `functions` concurrent functions for `seconds`."""
    api_keys = RateLimitedApiKeys(latency=latency_s)
    base = FakePorts.create(latency=latency_s)
    ports = FakePorts(
        api_keys, base.billing, base.analytics, base.accounts, key_items=base.key_items, key_pools=base.key_pools
    )
    KeyPoolProvisioner(api_keys, ports.key_pools, POOLED_PLANS, creations_per_second=1_000).provision(float("inf"))
    emails = itertools.count()
    counts = {"signed_up": 0, "refused": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def one_function() -> None:
        with ThreadPoolExecutor(CONCURRENT_CALLS) as executor:
            service = RegistrationService(
                ports.api_keys,
                ports.billing,
                ports.analytics,
                ports.accounts,
                metrics=ports.metrics,
                plans=POOLED_PLANS,
                key_items=ports.key_items,
                usage_keys=UsageKeys(ports.api_keys, ports.key_pools),
                executor=executor,
            )
            while time.monotonic() < deadline:
                registrant = Registrant(f"user{next(emails)}@example.com", "Bench", "User", plan_id)
                try:
                    service.register(registrant, registrant.email)
                    outcome = "signed_up"
                except DownstreamError:
                    outcome = "refused"
                with lock:
                    counts[outcome] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(functions) as pool:
        for future in [pool.submit(one_function) for _ in range(functions)]:
            future.result()
    elapsed = time.monotonic() - started
    return SignUpRate(plan_id, counts["signed_up"], counts["refused"], elapsed, len(api_keys.keys), api_keys.throttled)


def sign_up_lines(latency_ms: float, functions: int = 20, seconds: float = 5.0) -> list[str]:
    lines = []
    for plan_id, what in (("free", "free (pooled)"), ("standard", "paid (own key)")):
        rate = sign_up_rate(plan_id, functions=functions, seconds=seconds, latency_s=latency_ms / 1000)
        lines.append(
            f"sign-ups per second, {what:<15}{rate.per_second:7.1f}/s ({rate.signed_up} in {rate.seconds:.1f} s by "
            f"{functions} functions, each call +{latency_ms:g} ms; CreateApiKey limited to "
            f"{CREATE_API_KEY_PER_SECOND}/s: {rate.throttled} throttled, {rate.refused} answered 503; "
            f"gateway keys afterwards: {rate.gateway_keys})"
        )
    return lines
