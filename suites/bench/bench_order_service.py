"""`make bench`, part six: signed order placement through the whole stack.

`python -m mocks up` starts every mock, a throwaway Redis and the reference order service
on free loopback ports; 16 concurrent clients then place signed LIMIT orders under
strategy 42 (security, rate limit, idempotency key, anomaly check, strategy validation
against the real strategy mock, Redis) for a fixed time. The requests are signed
beforehand (each with its own nonce and idempotency key) and replayed by wrk, so the
calling services' signing and a Python load loop do not take the order service's CPU on
this 2-core machine; without wrk a Python loop signs as it goes (and is the bottleneck).
Reports throughput and p50/p99, and where the time goes: the same run's median of a bare
GET on the order service's `/health/circuit-breaker` (the HTTP floor) and of a bare
strategy-mock validation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

import httpx

from harness.servers import free_port, start_mock_servers, stop_mock_servers
from order_service.security.dev import dev_signer, dev_user_token
from suites.bench.wrk import REPLAY_LUA, Load, closed_loop, run_wrk, write_raw_requests
from suites.fixtures.orders import LIMIT_ORDER

ORDER = {**LIMIT_ORDER, "quantity": 1, "strategy_id": 42}
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
HEADERS = {"content-type": "application/json", "x-trading-account-id": "ZX1234"}


def signed_orders(url: str, count: int) -> list[bytes]:
    """`count` order requests as algo_engine would send them, each signed, with its own idempotency key."""
    signer = dev_signer("algo_engine")
    headers = {**HEADERS, "authorization": f"Bearer {dev_user_token(ttl=3600)}"}
    body = json.dumps(ORDER).encode()
    host = httpx.URL(url).netloc.decode()
    raw = []
    for _ in range(count):
        request = httpx.Request(
            "POST", url + "/orders", content=body, headers={**headers, "idempotency-key": uuid.uuid4().hex}
        )
        signer.sign(request)
        lines = ["POST /orders HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items() if name != "host"]
        raw.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return raw


def wrk_load(url: str, seconds: float, workdir: Path) -> Load:
    requests = workdir / "orders.raw"
    # Enough for 3,000 orders/s: a replayed signature would be refused (and counted as an error).
    write_raw_requests(requests, signed_orders(url, int(3_000 * seconds)))
    script = workdir / "replay.lua"
    script.write_text(REPLAY_LUA)
    return run_wrk(url, seconds=seconds, connections=CLIENTS, script=script, script_args=(str(requests), "2"))


def python_load(url: str, seconds: float) -> Load:
    """Without wrk: a Python loop signs and sends (it takes a core from the service)."""

    async def run() -> Load:
        headers = {**HEADERS, "authorization": f"Bearer {dev_user_token(ttl=3600)}"}
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(
            base_url=url, auth=dev_signer("algo_engine"), headers=headers, limits=limits, timeout=10
        ) as client:

            def send() -> Awaitable[httpx.Response]:
                return client.post("/orders", json=ORDER, headers={"idempotency-key": uuid.uuid4().hex})

            return await closed_loop(send, workers=CLIENTS, seconds=seconds, expected=201)

    return asyncio.run(run())


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
            with_wrk = shutil.which("wrk") is not None
            load = wrk_load(url, args.seconds, Path(workdir)) if with_wrk else python_load(url, args.seconds)
            http_floor = asyncio.run(floor(url, "/health/circuit-breaker"))
            strategy = asyncio.run(floor(live.url("strategy-service"), "/strategies/42/validate"))
        finally:
            stop_mock_servers(live)
    print(
        f"\nsigned order placement, whole stack, {CLIENTS} clients, {args.seconds:.0f} s "
        f"({'wrk replaying requests signed beforehand' if with_wrk else 'Python load loop, signing as it goes'}): "
        f"{load.rps:,.0f} orders/s (target 500), p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms "
        f"(target 25 ms), {load.errors} not 201 of {load.requests:,}"
    )
    print(
        f"  where the time goes (medians, one request at a time): the order service's HTTP floor "
        f"{http_floor * 1000:.2f} ms, a strategy validation on the mock {strategy * 1000:.2f} ms; per order the "
        "service verifies the signature and the user token, makes five Redis round trips (replay, limits, "
        "idempotency x2, anomaly windows) and one strategy validation, shared by the orders in flight"
    )
    return 0 if load.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
