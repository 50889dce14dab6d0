"""`make bench`, part six: signed order placement through the whole stack, durable and not.

`python -m mocks up` starts every mock, a throwaway Redis, a throwaway PostgreSQL and the
reference order service on free loopback ports; 16 concurrent clients then place signed
orders under strategy 42 (security, rate limit, idempotency key, anomaly check, strategy
validation against the real strategy mock, the order store) for a fixed time. The
requests are signed beforehand (each with its own nonce and idempotency key) and replayed
by wrk, so the calling services' signing and a Python load loop do not take the order
service's CPU on this 2-core machine; without wrk a Python loop signs as it goes (and is
the bottleneck).

The orders are ordinary ones: spread over 2,000 accounts (none near the frequency rule)
with the service's exchange clock inside Tuesday's session (ORDER_SERVICE_TEST_CLOCK_START),
so no anomaly is raised and the figures do not depend on the hour the bench runs.

Five stacks, one after the other in the same run:
1. LIMIT orders kept in PostgreSQL with fsync on (a crash of the machine loses nothing
   acknowledged: the durable service);
2. the same on unlogged tables (no write-ahead log: what a crash of PostgreSQL would lose),
   so 1 / 2 is the cost of durability;
3. the same with orders in memory (`--no-postgres`), so 1 / 3 is the cost of the database;
4. MARKET orders (each filled: a fill, a position and a P&L sync in the outbox), durable;
5. the same with a 6 s latency fault on the strategy service's P&L sync: the answer's p99
   must not follow the owner's latency (the relay delivers in the background);
6. stack 1 traced (`mocks up --otlp-endpoint`: the order service and every mock export
   their spans over OTLP/HTTP to a collector in this process), so 6 / 1 is the cost of
   tracing; and what a step costs while tracing is off (a no-op `span` against none).
Reports throughput and p50/p99 of each and the ratios, where the two cores went during the
durable and in-memory loads (each role's CPU, `suites.bench.cpu`) and the order service's own
CPU time per order, and the same run's floors: the median of a bare GET on the order service
and of a bare strategy-mock validation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from harness.servers import free_port, start_mock_servers, stop_mock_servers
from harness.traces import Collector
from order_service import tracing
from order_service.security.dev import dev_signer, dev_user_token
from suites.bench.cpu import CpuMeter
from suites.bench.wrk import REPLAY_LUA, Load, closed_loop, run_wrk, write_raw_requests
from suites.fixtures.orders import LIMIT_ORDER, market_order

ORDER = {**LIMIT_ORDER, "quantity": 1, "strategy_id": 42}
FILLED = {**market_order(strategy_id=42), "quantity": 1}
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ACCOUNTS = [f"ZX{n:04d}" for n in range(2_000)]  # 15 orders each at most: far from 30 a minute
IN_SESSION = "2026-12-01T10:00:00+05:30"  # a Tuesday, not an exchange holiday
# Children first: a logged table may not reference an unlogged one.
TABLES = ("fills", "outbox", "idempotency_keys", "orders", "positions")


def _token_headers(account: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-trading-account-id": account,
        "authorization": f"Bearer {dev_user_token(accounts=(account,), ttl=3600)}",
    }


def signed_orders(url: str, count: int, order: dict[str, object]) -> list[bytes]:
    """`count` order requests as algo_engine would send them, each signed, with its own idempotency key."""
    signer = dev_signer("algo_engine")
    headers = {account: _token_headers(account) for account in ACCOUNTS}
    body = json.dumps(order).encode()
    host = httpx.URL(url).netloc.decode()
    raw = []
    for n in range(count):
        account = ACCOUNTS[n % len(ACCOUNTS)]
        request = httpx.Request(
            "POST", url + "/orders", content=body, headers={**headers[account], "idempotency-key": uuid.uuid4().hex}
        )
        signer.sign(request)
        lines = ["POST /orders HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items() if name != "host"]
        raw.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return raw


def wrk_load(url: str, seconds: float, workdir: Path, signed: list[bytes]) -> Load:
    """wrk replaying `signed` (enough for 3,000 orders/s: a replayed signature is refused, an error)."""
    requests = workdir / "orders.raw"
    write_raw_requests(requests, signed)
    script = workdir / "replay.lua"
    script.write_text(REPLAY_LUA)
    return run_wrk(url, seconds=seconds, connections=CLIENTS, script=script, script_args=(str(requests), "2"))


def python_load(url: str, seconds: float, order: dict[str, object]) -> Load:
    """Without wrk: a Python loop signs and sends (it takes a core from the service)."""

    async def run() -> Load:
        headers = [_token_headers(account) for account in ACCOUNTS]
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=url, auth=dev_signer("algo_engine"), limits=limits, timeout=10) as client:
            sent = iter(range(10**9))

            def send() -> Awaitable[httpx.Response]:
                account = headers[next(sent) % len(headers)]
                return client.post("/orders", json=order, headers={**account, "idempotency-key": uuid.uuid4().hex})

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


@dataclass(frozen=True)
class Run:
    load: Load
    http_floor: float
    strategy_floor: float
    cpu: dict[str, float]  # cores each role took during the load (suites.bench.cpu)

    @property
    def service_us_per_order(self) -> float:
        """The order service's own CPU time per order placed, in microseconds."""
        return self.cpu.get("order service", 0.0) / self.load.rps * 1e6 if self.load.rps else 0.0


async def unlog(database: str) -> None:
    """The service's tables without the write-ahead log (the bench's comparison, never the service's own)."""
    connection = await asyncpg.connect(database)
    try:
        for table in TABLES:
            await connection.execute(f"ALTER TABLE order_service.{table} SET UNLOGGED")
    finally:
        await connection.close()


def run_stack(
    seconds: float, *, store: str, order: dict[str, object], slow_owner: bool = False, otlp: str | None = None
) -> Run:
    """One stack from start to stop, loaded for `seconds`; `store`: durable, unlogged or memory."""
    order_port = free_port()
    env = {
        "ORDER_SERVICE_RATE_LIMIT__PER_SERVICE": "100000",
        "ORDER_SERVICE_TEST_CLOCK_START": IN_SESSION,
    }
    extra = ["--redis-port", str(free_port()), "--order-service-port", str(order_port)]
    if otlp is not None:
        extra += ["--otlp-endpoint", otlp]
    if store == "memory":
        extra += ["--no-postgres"]
    else:
        extra += ["--postgres-port", str(free_port()), "--postgres-setting", "fsync=on"]
    with tempfile.TemporaryDirectory() as workdir:
        live = start_mock_servers(Path(workdir) / "stack.log", env=env, extra=extra)
        try:
            if store == "unlogged":
                asyncio.run(unlog(live.ready["database"]))
            url = f"http://127.0.0.1:{order_port}"
            if slow_owner:
                live.service("strategy-service").fault(kind="latency", delay_ms=6000, operation_id="syncStrategyPnl")
            with_wrk = shutil.which("wrk") is not None
            requests = signed_orders(url, int(3_000 * seconds), order) if with_wrk else []
            meter = CpuMeter(settle=min(2.0, seconds / 5), span=seconds * 0.6).start()  # inside the load
            load = wrk_load(url, seconds, Path(workdir), requests) if with_wrk else python_load(url, seconds, order)
            cpu = meter.join()
            http_floor = asyncio.run(floor(url, "/health/circuit-breaker"))
            strategy = asyncio.run(floor(live.url("strategy-service"), "/strategies/42/validate"))
        finally:
            stop_mock_servers(live)
    return Run(load, http_floor, strategy, cpu)


STEPS = 12  # at least the spans of one LIMIT placement under a strategy (server, verify, replay, limit, claim, ...)
CPUS = os.cpu_count() or 1


def step_cost_off(rounds: int = 200_000) -> tuple[float, float]:
    """Nanoseconds of one `with span(...)` block while tracing is off, and of an empty `with` block."""
    assert not tracing.enabled()
    bare = contextlib.nullcontext()
    started = time.perf_counter()
    for _ in range(rounds):
        with tracing.span("store place_order", ATTRIBUTES):
            pass
    off = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(rounds):
        with bare:
            pass
    return off / rounds * 1e9, (time.perf_counter() - started) / rounds * 1e9


ATTRIBUTES = {"db.system.name": "postgresql"}


def _cores(cpu: dict[str, float]) -> str:
    return ", ".join(f"{role} {cores:.2f}" for role, cores in cpu.items() if cores >= 0.01) or "not measured"


def line(name: str, load: Load) -> str:
    return (
        f"  {name}: {load.rps:,.0f} orders/s, p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, "
        f"{load.errors} not 201 of {load.requests:,}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench (order service)", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    durable = run_stack(args.seconds, store="durable", order=ORDER)
    unlogged = run_stack(args.seconds, store="unlogged", order=ORDER)
    memory = run_stack(args.seconds, store="memory", order=ORDER)
    filled = run_stack(args.seconds, store="durable", order=FILLED)
    slow = run_stack(args.seconds, store="durable", order=FILLED, slow_owner=True)
    with Collector() as collector:
        traced = run_stack(args.seconds, store="durable", order=ORDER, otlp=collector.endpoint)
        spans = len(collector.spans())
    how = "wrk replaying requests signed beforehand" if shutil.which("wrk") else "Python load loop, signing as it goes"
    print(f"\nsigned order placement, whole stack, {CLIENTS} clients, {args.seconds:.0f} s per stack ({how}):")
    print(line("LIMIT orders, PostgreSQL, fsync on (durable)", durable.load) + " (target 1,000/s, p99 under 25 ms)")
    print(line("LIMIT orders, PostgreSQL, unlogged tables   ", unlogged.load))
    print(line("LIMIT orders, in memory                     ", memory.load))
    print(line("MARKET orders (fill + P&L sync in the outbox), durable", filled.load))
    print(line("the same, the strategy service 6 s slow on P&L sync   ", slow.load))
    print(line("LIMIT orders, durable, traced (OTLP export)  ", traced.load) + f", {spans:,} spans exported")
    print(
        f"  durable / unlogged (the cost of durability): {durable.load.rps / unlogged.load.rps:.2f}x the rate "
        f"(target 0.8x or more); durable / in memory (the cost of the database): "
        f"{durable.load.rps / memory.load.rps:.2f}x"
    )
    print(f"  p99 with the slow owner / without: {slow.load.p99_ms / filled.load.p99_ms:.2f}x (target 1.2x or less)")
    off_ns, bare_ns = step_cost_off()
    print(
        f"  tracing on / off: {traced.load.rps / durable.load.rps:.2f}x the rate, p99 "
        f"{traced.load.p99_ms / durable.load.p99_ms:.2f}x; off, a traced step costs {off_ns:.0f} ns "
        f"(an empty block {bare_ns:.0f} ns): {STEPS} steps are {STEPS * (off_ns - bare_ns) / 1000:.2f} us of an "
        f"order's {1e6 / durable.load.rps * CPUS:.0f} us"
    )
    print(
        f"  where the cores went during the durable load ({CPUS} cores): {_cores(durable.cpu)}; in memory: "
        f"{_cores(memory.cpu)}; the order service's own CPU per order: {durable.service_us_per_order:,.0f} us "
        f"durable, {unlogged.service_us_per_order:,.0f} us unlogged, {memory.service_us_per_order:,.0f} us in memory"
    )
    print(
        f"  floors (medians, one request at a time, first stack): the order service's HTTP floor "
        f"{durable.http_floor * 1000:.2f} ms, a strategy validation on the mock {durable.strategy_floor * 1000:.2f} ms"
    )
    errors = sum(run.load.errors for run in (durable, unlogged, memory, filled, slow, traced))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
