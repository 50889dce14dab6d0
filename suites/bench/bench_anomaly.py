"""`make bench`, part five: orders the anomaly detector evaluates per second, against real Redis; the learned scores.

One process, a throwaway redis-server on loopback, 64 orders in flight at a time over
1,000 accounts; round trips per order counted on the client; the rules alone, then the rules
with the learned model (`anomaly.model.enabled`). Beside it, redis-benchmark's PING rate and
its rate for the detector's own EVALSHA, measured in the same run, as ratios. Then the
evaluation on a generated, labelled stream (`suites/anomaly/stream.py`, seed 1: 120 ordinary
accounts over three days, 24 abuse episodes on the last): precision, recall and F1 of the
rules, the model and both (`suites/anomaly/evaluate.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from order_service.services.order_anomaly_detector import _RECORD_ORDER, IST, OrderAnomalyDetector, OrderEvent
from order_service.settings import AnomalyModelSettings, AnomalySettings
from suites.anomaly.evaluate import evaluate as evaluate_stream
from suites.anomaly.evaluate import table
from suites.anomaly.stream import generate
from suites.fixtures.redis import redis_server_process

ORDERS = 50_000
IN_FLIGHT = 64


class CountingRedis(aioredis.Redis):
    """Counts commands sent one at a time (each is one round trip)."""

    round_trips = 0

    async def execute_command(self, *args: object, **options: object) -> object:
        CountingRedis.round_trips += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        """A pipeline whose execute counts one round trip (its commands go together)."""
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> Any:
            CountingRedis.round_trips += 1
            return await execute(raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


async def evaluate(url: str, *, model: bool = False) -> tuple[float, float]:
    client = CountingRedis.from_url(url, max_connections=IN_FLIGHT)
    detector = OrderAnomalyDetector(client, AnomalySettings(model=AnomalyModelSettings(enabled=model)))
    start = datetime(2026, 11, 26, 10, 0, tzinfo=IST)
    queue = iter(range(ORDERS))

    async def worker() -> None:
        for n in queue:
            await detector.check_order(
                OrderEvent(
                    f"AC{n % 1000:04d}", "NSE", f"S{n % 40}", 10, Decimal("100"), start + timedelta(milliseconds=50 * n)
                )
            )  # calm accounts

    await detector.check_order(OrderEvent("WARMUP", "NSE", "INFY", 1, Decimal(1), start))  # loads the script
    CountingRedis.round_trips = 0
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - began
    await client.aclose()
    return ORDERS / elapsed, CountingRedis.round_trips / ORDERS


def benchmark_rate(port: int, *command: str) -> float:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", "100000", "-c", str(IN_FLIGHT), "-q", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rates = [float(x) for x in re.findall(r"([0-9.]+) requests per second", out)]
    return max(rates)


def main() -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        print("anomaly bench skipped: redis-server is not installed")
        return 0
    with contextlib.contextmanager(redis_server_process)(binary) as server:
        url = server.url
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        rate, trips = asyncio.run(evaluate(url))
        both, both_trips = asyncio.run(evaluate(url, model=True))
        print(
            f"\nanomaly detector: {rate:,.0f} orders/s from one process ({IN_FLIGHT} in flight, target 5,000); "
            f"{trips:.2f} round trips per order (target 1)"
        )
        print(
            f"  with the learned model too: {both:,.0f} orders/s (target 5,000), {both_trips:.2f} round trips "
            f"per order; {both / rate:.2f}x the rules alone"
        )
        if shutil.which("redis-benchmark"):
            ping = benchmark_rate(port, "-t", "ping")
            sha = subprocess.run(
                ["redis-cli", "-p", str(port), "script", "load", _RECORD_ORDER],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            evalsha = benchmark_rate(
                port,
                "evalsha",
                sha,
                "2",
                "anomaly:{B}:orders",
                "anomaly:{B}:symbols",
                "1795700000000",
                "60000",
                "__rand_int__",
                "INFY",
                "3600",
            )
            print(
                f"  redis-benchmark, same server: PING {ping:,.0f}/s, the detector's EVALSHA {evalsha:,.0f}/s; "
                f"the detector runs at {rate / evalsha:.2f}x the bare EVALSHA rate, {rate / ping:.2f}x PING"
            )
        labelled = generate(seed=1)
        result = asyncio.run(evaluate_stream(url, labelled))
        print(
            f"\nlearned scores on a labelled stream ({result.orders:,} orders, "
            + ", ".join(f"{n} {k}" for k, n in sorted(result.abuse_by_kind.items()))
            + f" abuse orders in {result.episodes} episodes; seed 1):"
        )
        for line in table(result):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
