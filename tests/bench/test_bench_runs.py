"""`make bench` prints figures and never fails on them, but its code must keep up with the code it
measures: a few runs of each measurement on fakes, without any timing asserted."""

from __future__ import annotations

from bench.authorizer import cache_miss_ms
from bench.evidence import evidence_download
from bench.measure import register_latency
from bench.metering import reporter_throughput
from bench.signups import sign_up_rate
from tollgate.handlers import register


def test_the_register_measurement_runs_through_the_handler_and_the_seeds_order():
    figures = register_latency(register, latency_s=0.02, runs=2)  # calls that overlap in time show the path

    assert figures.critical_path_calls == 4 and figures.calls_per_sign_up > 0


def test_the_usage_reporter_measurement_reports_every_customer(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # it sets this for its own process
    figures = reporter_throughput(stripe_latency_s=0.0, records=200, customers=5)

    assert figures.stripe_calls == 5


def test_the_evidence_measurement_makes_one_file_of_every_call():
    figures = evidence_download(calls=500, objects=20, s3_latency_ms=0)

    assert (figures.calls, figures.objects) == (500, 20) and figures.megabytes > 0


def test_the_authorizer_measurement_allows_a_live_key_through_the_handler():
    assert len(cache_miss_ms(latency_ms=0.0, runs=2)) == 2  # it raises if the handler denied the key


def test_the_sign_up_rate_measurement_signs_up_free_accounts_on_the_pool_and_paid_ones_on_keys_of_their_own():
    free = sign_up_rate("free", functions=2, seconds=0.3, latency_s=0.0)
    paid = sign_up_rate("standard", functions=2, seconds=0.3, latency_s=0.0)

    assert free.signed_up > 0 and free.throttled == 0  # no CreateApiKey: the pool's keys were made before
    assert paid.signed_up > 0 and paid.gateway_keys > free.gateway_keys
