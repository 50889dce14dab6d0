"""`make map`: the README's dependency map, drawn from a real traced stack.

Starts `mocks up` (the reference order service on PostgreSQL and Redis, every mock) with
its spans sent to a collector in this process, places orders under strategies for a few
seconds (LIMIT and MARKET, so P&L syncs go through the outbox; strategy 43 is paused, so
some are refused), makes one call no contract documents, and writes the map
(`docs/dependency-map.json`, `.svg`, `.png`) with `harness map`'s own code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from harness.depmap import build, calls_from_journals, calls_from_spans, merge, render
from harness.map_cli import contract_operations, read_stack
from harness.servers import free_port, start_mock_servers, stop_mock_servers
from harness.traces import Collector
from suites.e2e.replicas import PINNED, client
from suites.fixtures.orders import LIMIT_ORDER, market_order


async def traffic(url: str, strategy_mock: str, seconds: float) -> Counter[int]:
    """Orders from one client for `seconds`; how many got each status."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    async with client(url) as algo:
        while time.monotonic() < deadline:
            sent = statuses.total()
            order = market_order(strategy_id=42) if sent % 3 else {**LIMIT_ORDER, "strategy_id": 42 + sent % 2}
            statuses[(await algo.post("/orders", json={**order, "quantity": 1})).status_code] += 1
    async with httpx.AsyncClient() as plain:
        await plain.get(strategy_mock + "/strategies/42/secrets")  # what no contract documents
    return statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make map", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("docs/dependency-map"))
    args = parser.parse_args(argv)
    port = free_port()
    with Collector() as collector, tempfile.TemporaryDirectory() as workdir:
        log = Path(workdir) / "stack.log"
        live = start_mock_servers(
            log,
            extra=(
                *("--redis-port", str(free_port()), "--postgres-port", str(free_port())),
                *("--order-service-port", str(port), "--otlp-endpoint", collector.endpoint),
            ),
            env={
                "ORDER_SERVICE_TEST_CLOCK_START": PINNED,
                "ORDER_SERVICE_TRACING__EXPORT_DELAY_MS": "200",
                # one account, many orders: neither the rate limit nor the frequency rule is the subject here
                "ORDER_SERVICE_RATE_LIMIT__PER_ACCOUNT": "100000",
                "ORDER_SERVICE_ANOMALY__ORDERS_PER_MINUTE": "100000",
            },
        )
        try:
            started = time.time()
            statuses = asyncio.run(traffic(f"http://127.0.0.1:{port}", live.url("strategy-service"), args.seconds))
            time.sleep(1.5)  # the last batches of spans and the relay's last deliveries
            journals, discovered = read_stack(log.with_name(log.name + ".ready.json"))
            spans = collector.spans()
        finally:
            stop_mock_servers(live)
    calls = merge(calls_from_spans(spans), calls_from_journals(journals, spans))
    dependency_map = build(calls, contract_operations((), None), discovered, window_seconds=time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(dependency_map.as_dict(), indent=2) + "\n")
    for suffix in (".svg", ".png"):
        render(dependency_map, args.out.with_suffix(suffix))
    answers = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
    edges = len(dependency_map.edges)
    print(f"{statuses.total()} orders ({answers}), {len(spans):,} spans, {edges} edges -> {args.out}.{{json,svg,png}}")
    for edge in dependency_map.edges:
        p99 = f"p99 {edge.p99_ms:g} ms" if edge.p99_ms is not None else "p99 -"
        flag = "" if edge.in_contract else f"  FLAGGED: {edge.why}"
        print(
            f"  {edge.caller} -> {edge.service} {edge.operation}: {edge.calls} calls, "
            f"{edge.rate_per_second:g}/s, {edge.error_share:.1%} errors, {p99}{flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
