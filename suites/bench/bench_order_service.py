"""`make bench`, part six: signed order placement through the whole stack.

`python -m mocks up` starts every mock, a throwaway Redis and the reference order service
on free loopback ports; 16 concurrent clients then place signed LIMIT orders under
strategy 42 (security, rate limit, idempotency key, anomaly check, strategy validation
against the real strategy mock, Redis) for a fixed time. Reports throughput and p50/p99,
and where the time goes: the same run's median of a bare GET on the order service's
`/health/circuit-breaker` (the HTTP floor) and of a bare strategy-mock validation.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from order_service.security.dev import dev_signer, dev_user_token
from suites.fixtures.mocks import free_port, start_mock_servers, stop_mock_servers

ORDER = {
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "transaction_type": "BUY",
    "order_type": "LIMIT",
    "product": "MIS",
    "quantity": 1,
    "price": "1500",
    "strategy_id": 42,
}
CLIENTS = int(__import__("os").environ.get("BENCH_CLIENTS", "16"))


async def load(url: str, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"authorization": f"Bearer {dev_user_token(ttl=3600)}", "x-trading-account-id": "ZX1234"}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=url, auth=dev_signer("algo_engine"), headers=headers, limits=limits, timeout=10
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await client.post("/orders", json=ORDER, headers={"idempotency-key": uuid.uuid4().hex})
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 201

        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return latencies, errors


async def floor(url: str, path: str, rounds: int = 300) -> float:
    async with httpx.AsyncClient(base_url=url) as client:
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            await client.get(path)
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench (order service)", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    order_port = free_port()
    env = {"ORDER_SERVICE_RATE_LIMIT__PER_ACCOUNT": "100000", "ORDER_SERVICE_RATE_LIMIT__PER_SERVICE": "100000"}
    with tempfile.TemporaryDirectory() as workdir:
        live = start_mock_servers(
            Path(workdir) / "stack.log",
            env=env,
            extra=("--redis-port", str(free_port()), "--order-service-port", str(order_port)),
        )
        try:
            url = f"http://127.0.0.1:{order_port}"
            latencies, errors = asyncio.run(load(url, args.seconds))
            http_floor = asyncio.run(floor(url, "/health/circuit-breaker"))
            strategy = asyncio.run(floor(live.url("strategy-service"), "/strategies/42/validate"))
        finally:
            stop_mock_servers(live)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"\nsigned order placement, whole stack, {CLIENTS} clients, {args.seconds:.0f} s: "
        f"{len(latencies) / args.seconds:,.0f} orders/s (target 500), p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms (target 25 ms), {errors} not 201"
    )
    print(
        f"  where the time goes (medians, one request at a time): the order service's HTTP floor "
        f"{http_floor * 1000:.2f} ms, a strategy validation on the mock {strategy * 1000:.2f} ms; the rest is "
        "signing, verification, the Redis round trips (replay, limits, idempotency x2, anomaly) and the "
        "client and server sharing two cores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
