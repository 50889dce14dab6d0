"""`make bench`, part two: what the order-service client adds to a call.

Against real strategy and config mocks on loopback, one call at a time, interleaved in
blocks: a bare `httpx.AsyncClient` GET of `/strategies/42/validate` (JSON decoded) versus
`StrategyServiceClient.validate_strategy(42)` through discovery (cached), the breaker,
retry wrapper, strict model parsing, stale-cache bookkeeping and metrics. Reports the
median and p99 of each and the ratio of the medians (target: at most 1.25). A third series
sends the same call with service tokens on (an auth-service mock on loopback issues them):
how many token requests the calls made (one: a token serves every call until shortly
before it expires) and its median against the client without tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import httpx
import orjson

from harness.processes import stop_process
from order_service.clients import ClientHub
from order_service.security.dev import dev_service_token_client
from order_service.settings import Settings
from suites.bench.bench_mocks import HOST, free_port, start


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def measure(strategy_url: str, config_url: str, auth_url: str, calls: int, block: int) -> dict[str, Any]:
    bare_times: list[float] = []
    client_times: list[float] = []
    token_times: list[float] = []
    hub = ClientHub(Settings(config_service_url=config_url, fallback_urls={}))
    _, secret = dev_service_token_client()
    tokens = {"enabled": True, "client_secret": secret, "token_url": auth_url + "/oauth/token"}
    token_hub = ClientHub(Settings(config_service_url=config_url, fallback_urls={}, service_tokens=tokens))
    async with httpx.AsyncClient(base_url=strategy_url) as bare:
        for _ in range(50):  # warm every path: connections, discovery, caches, the token
            await bare.get("/strategies/42/validate")
            await hub.strategy.validate_strategy(42)
            await token_hub.strategy.validate_strategy(42)
        for _ in range(calls // block):
            for _ in range(block):
                began = time.perf_counter()
                response = await bare.get("/strategies/42/validate")
                orjson.loads(response.content)
                bare_times.append(time.perf_counter() - began)
            for _ in range(block):
                began = time.perf_counter()
                await hub.strategy.validate_strategy(42)
                client_times.append(time.perf_counter() - began)
            for _ in range(block):
                began = time.perf_counter()
                await token_hub.strategy.validate_strategy(42)
                token_times.append(time.perf_counter() - began)
    assert token_hub.tokens is not None
    fetches = token_hub.tokens.fetches
    await hub.aclose()
    await token_hub.aclose()
    return {"bare": bare_times, "client": client_times, "tokens": token_times, "fetches": fetches}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench (clients)", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--block", type=int, default=100)
    args = parser.parse_args(argv)
    strategy_port, config_port, auth_port = free_port(), free_port(), free_port()
    strategy_url, config_url = f"http://{HOST}:{strategy_port}", f"http://{HOST}:{config_port}"
    auth_url = f"http://{HOST}:{auth_port}"
    serve = [sys.executable, "-m", "mocks", "serve"]
    strategy, _ = start([*serve, "strategy-service", "--host", HOST, "--port", str(strategy_port)], strategy_port)
    auth, _ = start(
        [*serve, "auth-service", "--host", HOST, "--port", str(auth_port)], auth_port, path="/__admin/health"
    )
    config, _ = start(
        [
            *serve,
            "config-service",
            "--host",
            HOST,
            "--port",
            str(config_port),
            f"--registry=strategy-service={strategy_url}",
        ],
        config_port,
        path="/services",
    )
    try:
        times = asyncio.run(measure(strategy_url, config_url, auth_url, args.calls, args.block))
    finally:
        stop_process(strategy)
        stop_process(config)
        stop_process(auth)
    bare, client, with_tokens = (sorted(times[k]) for k in ("bare", "client", "tokens"))
    ratio = statistics.median(client) / statistics.median(bare)
    print(f"\nclient overhead, {len(bare)} sequential calls each, interleaved in blocks of {args.block}:")
    print(
        f"  bare httpx GET + JSON:          median {statistics.median(bare) * 1e6:7.0f} us, "
        f"p99 {percentile(bare, 99) * 1e6:7.0f} us"
    )
    print(
        f"  StrategyServiceClient call:     median {statistics.median(client) * 1e6:7.0f} us, "
        f"p99 {percentile(client, 99) * 1e6:7.0f} us"
    )
    print(f"  ratio of medians: {ratio:.2f} (target <= 1.25)")
    print(
        f"  with service tokens:            median {statistics.median(with_tokens) * 1e6:7.0f} us, "
        f"p99 {percentile(with_tokens, 99) * 1e6:7.0f} us; {times['fetches']} token request(s) for "
        f"{len(with_tokens) + 50:,} calls; {statistics.median(with_tokens) / statistics.median(client):.2f}x "
        "the client without tokens"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
