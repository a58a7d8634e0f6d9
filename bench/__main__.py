"""python -m bench [--latency-ms L] [--runs N] [--cold-runs N]: prints figures, never fails on them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from statistics import median

from bench.authorizer import AUTHORIZER_TABLE_LATENCY_MS, authorizer_line
from bench.cold_start import measure_cold_start
from bench.evidence import evidence_line
from bench.measure import BENCH_ENVIRONMENT, HANDLER_MODULE, register_latency
from bench.metering import reporter_line
from bench.signups import sign_up_lines

# What Lambda and the stack add to the register function's environment (infra/functions.py: the
# shared environment each feature provides to).
_REGISTER_FUNCTION_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "tollgate-register",
    "POWERTOOLS_SERVICE_NAME": "tollgate-register",
}


def print_cold_start(runs: int) -> None:
    """Cold init of the register function on the built asset (bench/cold_start.py), then the
    figure line, which uses the median."""
    try:
        cold = measure_cold_start(HANDLER_MODULE, {**BENCH_ENVIRONMENT, **_REGISTER_FUNCTION_ENVIRONMENT}, runs)
    except Exception as error:  # noqa: BLE001 - a figure we cannot get is reported, not fatal
        print(f"cold init                         unavailable: {error}")
        return
    handler_ms, asset = median(cold.handler_ms), cold.asset
    print(
        f"cold init (handler import)        min {min(cold.handler_ms):.0f} / median {handler_ms:.0f} ms "
        f"({runs} fresh processes of {cold.python}: built asset + the runtime's boto3; the `cold init` line "
        "uses the median)"
    )
    setup = cold.first_sign_up_setup_ms
    print(
        f"first sign-up's setup             min {min(setup):.0f} / median {median(setup):.0f} ms (the lazy wiring: "
        "boto3 session and clients, secret stores, idempotency store, and the stripe and moesifapi imports)"
    )
    print(f"import boto3 alone (runtime's)    min {min(cold.boto3_ms):.0f} / median {median(cold.boto3_ms):.0f} ms")
    authorizer, boto3 = median(cold.authorizer_ms), median(cold.boto3_ms)
    print(
        f"key authorizer import             min {min(cold.authorizer_ms):.0f} / median {authorizer:.0f} ms "
        f"({authorizer / boto3:.2f} x import boto3; issue 20's budget: 1.2 x)"
    )
    print(
        f"key authorizer's first call       min {min(cold.authorizer_first_call_ms):.0f} / median "
        f"{median(cold.authorizer_first_call_ms):.0f} ms more (its DynamoDB client, before the one GetItem)"
    )
    print(
        f"Lambda asset                      {asset.unzipped_bytes / 1e6:.1f} MB unzipped, "
        f"{asset.zipped_bytes / 1e6:.1f} MB zipped, {asset.files:,} files"
    )
    print(f"cold init {handler_ms:.0f} ms (asset {asset.unzipped_bytes / 1e6:.1f} MB unzipped, {asset.files:,} files)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency of every external call (default 50)")
    parser.add_argument("--runs", type=int, default=30, help="sign-ups to time (default 30)")
    parser.add_argument("--cold-runs", type=int, default=10, help="fresh processes importing the handler (default 10)")
    arguments = parser.parse_args(argv)
    latency = arguments.latency_ms

    os.environ.update(BENCH_ENVIRONMENT)
    handler_module = importlib.import_module(HANDLER_MODULE)
    figures = register_latency(handler_module, latency / 1000, arguments.runs)
    target = 4 * latency + 25
    print(f"external calls per sign-up        {figures.calls_per_sign_up} (each +{latency:g} ms)")
    print(f"calls on the critical path        {figures.critical_path_calls} (seed: 6)")
    print(
        f"register p50 / p95                {figures.register_p50_ms:.1f} / {figures.register_p95_ms:.1f} ms "
        f"(target <= 4*L + 25 = {target:g} ms: {'met' if figures.register_p50_ms <= target else 'MISSED'})"
    )
    print(
        f"with Idempotency-Key p50          {figures.idempotent_p50_ms:.1f} ms (+ the idempotency store's put "
        "and update, one before and one after the flow)"
    )
    print(
        f"first sign-up of a process        {figures.first_request_ms:.1f} ms (+ the secret read; Powertools "
        "caches it for 5 minutes)"
    )
    print(f"seed's sequential order p50       {figures.seed_order_p50_ms:.1f} ms (6*L = {6 * latency:g} ms)")
    print_cold_start(arguments.cold_runs)
    print(reporter_line(latency))
    print(evidence_line())
    print(authorizer_line(AUTHORIZER_TABLE_LATENCY_MS, arguments.runs))
    for line in sign_up_lines(latency):
        print(line)
    print(
        f"register p50 {figures.register_p50_ms:.0f} ms, seed order {figures.seed_order_p50_ms:.0f} ms, "
        f"L={latency:g} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
