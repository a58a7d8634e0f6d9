"""python -m bench [--latency-ms L] [--runs N]: prints figures, never fails on them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bench.measure import BENCH_ENVIRONMENT, HANDLER_MODULE, cold_start_ms, lambda_asset_size, register_latency
from bench.metering import reporter_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency of every external call (default 50)")
    parser.add_argument("--runs", type=int, default=30, help="sign-ups to time (default 30)")
    arguments = parser.parse_args(argv)
    latency = arguments.latency_ms

    os.environ.update(BENCH_ENVIRONMENT)
    handler_module = importlib.import_module(HANDLER_MODULE)
    figures = register_latency(handler_module, latency / 1000, arguments.runs)
    target = 4 * latency + 25
    print(f"external calls per sign-up        {figures.calls_per_sign_up} (each +{latency:g} ms)")
    print(f"calls on the critical path        {figures.critical_path_calls} (seed: 6)")
    print(f"register p50 / p95                {figures.register_p50_ms:.1f} / {figures.register_p95_ms:.1f} ms "
          f"(target <= 4*L + 25 = {target:g} ms: {'met' if figures.register_p50_ms <= target else 'MISSED'})")
    print(f"with Idempotency-Key p50          {figures.idempotent_p50_ms:.1f} ms (+ the idempotency store's put "
          "and update, one before and one after the flow)")
    print(f"first sign-up of a process        {figures.first_request_ms:.1f} ms (+ the secret read; Powertools "
          "caches it for 5 minutes)")
    print(f"seed's sequential order p50       {figures.seed_order_p50_ms:.1f} ms (6*L = {6 * latency:g} ms)")
    handler_ms, sdk_ms = cold_start_ms()
    print(f"cold start: handler import        {handler_ms:.0f} ms (stripe + moesifapi deferred: {sdk_ms:.0f} ms "
          "on the first sign-up)")
    try:
        asset = lambda_asset_size()
        print(f"Lambda asset                      {asset.unzipped_bytes / 1e6:.1f} MB unzipped, "
              f"{asset.zipped_bytes / 1e6:.1f} MB zipped ({asset.source})")
    except Exception as error:  # noqa: BLE001 - a figure we cannot get is reported, not fatal
        print(f"Lambda asset                      unavailable: {error}")
    print(reporter_line(latency))
    print(f"register p50 {figures.register_p50_ms:.0f} ms, seed order {figures.seed_order_p50_ms:.0f} ms, "
          f"L={latency:g} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
