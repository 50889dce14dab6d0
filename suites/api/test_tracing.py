"""Tracing inside one process: the spans of the order flow, their errors, and nothing at all while it is off."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from harness.servers import InProcessMocks
from order_service import tracing
from order_service.api.app import create_app
from order_service.clients import ClientHub
from order_service.clients.models import PnlSync
from order_service.fallbacks.outbox import Deferred
from order_service.security.dev import dev_security_settings
from order_service.settings import Settings, TracingSettings
from suites.api.test_order_flow import api, at_eleven
from suites.fixtures.clients import FakeTime, build_hub
from suites.fixtures.orders import LIMIT_ORDER, as_served, market_order
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
PNL = PnlSync(
    as_of=datetime.fromisoformat("2026-11-26T15:30:00+05:30"),
    realized_pnl=Decimal(10),
    unrealized_pnl=Decimal(0),
    total_pnl=Decimal(10),
    open_positions=1,
)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracing.installed(provider):
        yield spans


@pytest.fixture
async def stack(real_redis: RealRedis, mocks: InProcessMocks, fake_time: FakeTime) -> AsyncIterator[FastAPI]:
    client = aioredis.Redis.from_url(real_redis.url)
    hub: ClientHub = build_hub(mocks, fake_time)
    yield await as_served(
        create_app(Settings(security=dev_security_settings()), redis=client, hub=hub, clock=at_eleven)
    )
    await hub.aclose()
    await client.aclose()


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def named(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in spans]}"
    return found[0]


async def test_the_flow_of_a_placement_is_one_trace_under_the_callers_span(
    stack: FastAPI, exporter: InMemorySpanExporter, mocks: InProcessMocks
) -> None:
    trace_id, caller, header = traceparent()
    async with api(stack) as algo:
        placed = await algo.post(
            "/orders",
            json=market_order(strategy_id=42),
            headers={"traceparent": header, "Idempotency-Key": "traced-0001"},
        )
    assert placed.status_code == 201, placed.text
    await stack.state.relay.deliver_due()  # the P&L sync, from the outbox
    spans = exporter.get_finished_spans()
    assert {hex_id(s.context.trace_id, 32) for s in spans} == {trace_id}
    server = named(spans, "POST /orders")
    assert server.kind is SpanKind.SERVER
    assert server.parent is not None
    assert hex_id(server.parent.span_id, 16) == caller
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/orders"
    validate = named(spans, "strategy-service validateStrategy")
    sync = named(spans, "strategy-service syncStrategyPnl")
    deliver = named(spans, "outbox deliver")
    assert validate.kind is sync.kind is SpanKind.CLIENT
    assert sync.parent is not None
    assert sync.parent.span_id == deliver.context.span_id
    assert deliver.attributes is not None
    assert deliver.attributes["order.id"] == placed.json()["order_id"]
    # the owner received the client span's context: the mock continued the trace from it
    strategy = mocks.service("strategy-service")
    for operation, span in (("validateStrategy", validate), ("syncStrategyPnl", sync)):
        (entry,) = strategy.journal(operation_id=operation, trace_id=trace_id)
        assert entry["trace"]["parent_span_id"] == hex_id(span.context.span_id, 16)
        assert entry["headers"]["traceparent"] == f"00-{trace_id}-{hex_id(span.context.span_id, 16)}-01"


async def test_a_failed_step_ends_its_span_with_an_error(
    stack: FastAPI, exporter: InMemorySpanExporter, mocks: InProcessMocks
) -> None:
    strategy = mocks.service("strategy-service")
    with strategy.outage(kind="status", status=503, operation_id="validateStrategy"):
        async with api(stack) as algo:
            refused = await algo.post("/orders", json={**LIMIT_ORDER, "strategy_id": 42})
    assert refused.status_code == 503, refused.text
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.name == "strategy-service validateStrategy"]
    assert calls
    assert all(s.status.status_code is StatusCode.ERROR for s in calls)
    assert [s.attributes["http.request.resend_count"] for s in calls[1:] if s.attributes] == list(
        range(1, len(calls))
    )  # each retry is a span of its own
    assert named(spans, "POST /orders").status.status_code is StatusCode.ERROR
    exporter.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack), base_url="http://order.test") as anon:
        unsigned = await anon.post("/orders", json=LIMIT_ORDER)
    assert unsigned.status_code == 401
    server = named(exporter.get_finished_spans(), "POST /orders")
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 401


async def test_while_tracing_is_off_nothing_is_recorded_and_no_traceparent_leaves(
    stack: FastAPI, mocks: InProcessMocks
) -> None:
    assert tracing.provider_from(TracingSettings()) is None  # off unless an exporter is named
    assert not tracing.enabled()
    assert tracing.span("a step") is tracing.span("another")  # one shared no-op: nothing is built per step
    _, _, header = traceparent()
    async with api(stack) as algo:
        placed = await algo.post("/orders", json=market_order(strategy_id=42), headers={"traceparent": header})
    assert placed.status_code == 201
    (entry,) = mocks.service("strategy-service").journal(operation_id="validateStrategy")
    assert entry["trace"] is None
    assert "traceparent" not in entry["headers"]
    assert tracing.current_traceparent() is None
    assert tracing.trace_id() is None


async def test_a_write_kept_by_the_clients_outbox_is_delivered_under_a_span_of_its_own(
    stack: FastAPI, exporter: InMemorySpanExporter, mocks: InProcessMocks, hub: ClientHub
) -> None:
    strategy = mocks.service("strategy-service")
    with strategy.outage(kind="status", status=503, operation_id="syncStrategyPnl"):
        kept = await hub.strategy.sync_strategy_pnl(42, PNL)
    assert isinstance(kept, Deferred)
    exporter.clear()
    assert await hub.relay.drain("strategy-service") == 1
    spans = exporter.get_finished_spans()
    deliver = named(spans, "outbox deliver")
    assert deliver.attributes is not None
    assert deliver.attributes["outbox.kind"] == "clients"
    assert deliver.attributes["outbox.result"] == "delivered"
    call = named(spans, "strategy-service syncStrategyPnl")
    assert call.parent is not None
    assert call.parent.span_id == deliver.context.span_id
    (entry,) = strategy.journal(operation_id="syncStrategyPnl", status=200)
    assert entry["trace"]["parent_span_id"] == hex_id(call.context.span_id, 16)
