"""`mocks up --otlp-endpoint`: one order followed through real processes, from the caller into every mock it touched.

The stack (the reference order service on PostgreSQL and Redis, every mock) exports its
spans to a collector in this test; the test sends the order with a `traceparent` of its own,
so it knows the trace before any process does.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from harness.traces import Collector, SpanRecord
from suites.e2e.replicas import PINNED, client, eventually
from suites.fixtures import environment
from suites.fixtures.orders import market_order
from suites.fixtures.postgres import server_binaries

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.postgres]

# the steps of one placement under a strategy, then its P&L sync from the outbox
PLACEMENT = {
    "POST /orders",
    "verify signature",
    "redis replay_check",
    "redis rate_limit",
    "store claim_key",
    "strategy-service validateStrategy",
    "anomaly check",
    "redis anomaly_windows",
    "store place_order",
    "outbox deliver",
    "strategy-service syncStrategyPnl",
}


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[tuple[LiveMocks, str, Collector]]:
    environment.binary("redis-server")
    server_binaries()
    port = free_port()
    with Collector() as collector:
        live = start_mock_servers(
            tmp_path / "stack.log",
            extra=(
                *("--redis-port", str(free_port()), "--postgres-port", str(free_port())),
                *("--order-service-port", str(port), "--otlp-endpoint", collector.endpoint),
            ),
            env={
                "ORDER_SERVICE_TEST_CLOCK_START": PINNED,
                "ORDER_SERVICE_OUTBOX_RELAY_INTERVAL": "0.2",
                "ORDER_SERVICE_TRACING__EXPORT_DELAY_MS": "100",
            },
        )
        try:
            yield live, f"http://127.0.0.1:{port}", collector
        finally:
            assert stop_mock_servers(live) == 0


def by_name(spans: list[SpanRecord], name: str, service: str = "order-service") -> list[SpanRecord]:
    return [s for s in spans if s.name == name and s.service == service]


async def test_one_order_is_one_trace_through_the_service_and_every_mock_it_touched(
    traced: tuple[LiveMocks, str, Collector],
) -> None:
    live, url, collector = traced
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    since = {name: live.service(name).journal()[-1]["seq"] if live.service(name).journal() else 0 for name in live.urls}
    async with client(url) as algo:
        placed = await algo.post(
            "/orders",
            json=market_order(strategy_id=42),
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01", "Idempotency-Key": "traced-order-0001"},
        )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    strategy = live.service("strategy-service")

    async def synced() -> bool:
        return bool(strategy.journal(operation_id="syncStrategyPnl", trace_id=trace_id))

    await eventually(synced, what="the P&L sync of the traced order")
    spans = collector.wait_for(trace_id, PLACEMENT)

    # the service continued the caller's trace: its server span is the caller's child
    (server,) = by_name(spans, "POST /orders")
    assert server.parent_span_id == caller_span
    assert server.kind == "server"
    assert server.attributes["http.response.status_code"] == 201
    ids = {s.span_id: s for s in spans}
    for step in PLACEMENT - {"POST /orders", "outbox deliver", "strategy-service syncStrategyPnl"}:
        (span,) = by_name(spans, step)
        assert span.parent_span_id in ids, f"{step} hangs off no span of the trace"
    # the delivery came later, from the relay, and still joins the order's trace
    (deliver,) = by_name(spans, "outbox deliver")
    assert deliver.attributes["order.id"] == order_id
    assert deliver.attributes["outbox.result"] == "delivered"
    assert deliver.start_ns >= server.end_ns
    (sync_call,) = by_name(spans, "strategy-service syncStrategyPnl")
    assert sync_call.parent_span_id == deliver.span_id
    assert sync_call.kind == "client"

    # every request any mock received since the order belongs to its trace, and names the
    # order service's client span as its parent; the mock's own span is in the collector
    touched: dict[str, list[str]] = {}
    for name in live.urls:
        for entry in live.service(name).journal(since=since[name]):
            assert entry["trace"] is not None, f"{name} {entry['operation_id']} arrived without the trace"
            assert entry["trace"]["trace_id"] == trace_id
            caller = ids[entry["trace"]["parent_span_id"]]
            assert caller.service == "order-service"
            assert caller.kind == "client"
            assert caller.name == f"{name} {entry['operation_id']}"
            touched.setdefault(name, []).append(entry["operation_id"])
            own = await _exported(collector, trace_id, entry["trace"]["span_id"])
            assert (own.service, own.kind, own.parent_span_id) == (name, "server", caller.span_id)
    assert touched["strategy-service"] == ["validateStrategy", "syncStrategyPnl"]
    mock_spans = [s for s in collector.trace(trace_id) if s.service == "strategy-service"]
    assert sorted(str(s.attributes.get("rpc.method")) for s in mock_spans) == ["syncStrategyPnl", "validateStrategy"]


async def _exported(collector: Collector, trace_id: str, span_id: str) -> SpanRecord:
    """The mock's own span, once it reached the collector (its batch may come a moment later)."""

    async def arrived() -> bool:
        return any(s.span_id == span_id for s in collector.trace(trace_id))

    await eventually(arrived, timeout=10, what=f"the mock's span {span_id}")
    (span,) = [s for s in collector.trace(trace_id) if s.span_id == span_id]
    return span


async def test_the_dependency_map_of_a_traced_stack_flags_an_undocumented_call(
    traced: tuple[LiveMocks, str, Collector], tmp_path: Path
) -> None:
    environment.binary("dot")  # Graphviz draws the map
    live, url, collector = traced
    trace_id = secrets.token_hex(16)
    async with client(url) as algo:
        for n in range(3):
            headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
            placed = await algo.post("/orders", json=market_order(strategy_id=42, quantity=n + 1), headers=headers)
            assert placed.status_code == 201, placed.text
    async with httpx.AsyncClient() as plain:
        undocumented = await plain.get(live.url("strategy-service") + "/strategies/42/secrets")  # no such operation
        assert undocumented.status_code == 404
        report = (await plain.get(f"{url}/health/dependencies")).json()
    collector.wait_for(trace_id, {"strategy-service syncStrategyPnl"})
    spans = tmp_path / "spans.jsonl"
    spans.write_text("".join(json.dumps(asdict(s)) + "\n" for s in collector.spans()))
    out = tmp_path / "map"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "harness", "map", "--ready", str(tmp_path / "stack.log.ready.json")),
            *("--spans", str(spans), "--json", f"{out}.json", "--svg", f"{out}.svg", "--png", f"{out}.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr  # one edge is missing from the contracts
    assert "flagged: unknown -> strategy-service GET /strategies/42/secrets" in done.stderr
    mapped = json.loads(Path(f"{out}.json").read_text())
    edges = {(e["caller"], e["service"], e["operation"]): e for e in mapped["edges"]}
    validate = edges[("order-service", "strategy-service", "validateStrategy")]
    assert validate["calls"] == 3  # one per order: the journal's copies of traced calls are not counted again
    assert validate["error_share"] == 0
    assert validate["p50_ms"] is not None
    assert validate["p99_ms"] >= validate["p50_ms"]
    assert edges[("order-service", "strategy-service", "syncStrategyPnl")]["in_contract"]
    assert ("order-service", "config-service", "getServiceEndpoint") in edges
    flagged = edges[("unknown", "strategy-service", "GET /strategies/42/secrets")]
    assert not flagged["in_contract"]
    assert mapped["nodes"]["strategy-service"]["discovered"]
    assert Path(f"{out}.png").read_bytes().startswith(b"\x89PNG\r\n")
    assert "NOT IN CONTRACT" in Path(f"{out}.svg").read_text()
    # the order service's own view, from its clients' metrics
    own = {(e["service"], e["operation"]): e for e in report["edges"]}
    assert own[("strategy-service", "validateStrategy")]["calls"] == 3
    assert own[("strategy-service", "validateStrategy")]["error_share"] == 0
    assert "strategy-service" in report["discovered"]
    assert [i["state"] for i in report["instances"]["strategy-service"]] == ["in_service"]
