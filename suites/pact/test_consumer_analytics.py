"""Consumer pacts with the analytics service, driven through the real AnalyticsServiceClient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from pact import Pact, match

from order_service.clients.analytics import AnalyticsServiceClient
from order_service.clients.models import PnlInput
from order_service.fallbacks.outbox import Deferred
from suites.pact.matchers import JSON, day, idempotency_key, money, percent, timestamp

pytestmark = [pytest.mark.anyio, pytest.mark.pact]
PROVIDER = "analytics-service"
NewPact = Callable[[str], Pact]
DAY = {"day_pnl": Decimal("1000.5"), "realized_pnl": Decimal("1000.5"), "unrealized_pnl": Decimal(0)}


def metric(metric_date: str, version: int) -> dict[str, object]:
    return {
        "strategy_id": match.int(42),
        "metric_date": metric_date,
        "day_pnl": money("1000.5"),
        "realized_pnl": money("1000.5"),
        "unrealized_pnl": money("0"),
        "trades_count": match.int(0),
        "cumulative_pnl": money("1000.5"),
        "high_water_mark": money("1000.5"),
        "drawdown": money("0"),
        "drawdown_pct": percent("0.0000"),
        "version": match.int(version),
        "updated_at": timestamp(),
    }


def calculate_request(metric_date: str) -> dict[str, object]:
    return {
        "strategy_id": 42,
        "metric_date": metric_date,
        "day_pnl": money("1000.5"),
        "realized_pnl": money("1000.5"),
        "unrealized_pnl": money("0"),
        "trades_count": match.int(0),
    }


async def test_calculate_creates_a_day(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a P&L calculation for a new day")
        .given("strategy 42 has no P&L metrics")
        .with_request("POST", "/analytics/pnl/calculate")
        .with_header("Idempotency-Key", idempotency_key("pnl", 3))
        .with_body(calculate_request("2026-11-26"), content_type=JSON)
        .will_respond_with(201)
        .with_body(metric("2026-11-26", 1), content_type=JSON)
    )
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            stored = await client.calculate_and_store_pnl_metrics(42, date(2026, 11, 26), DAY)
    assert not isinstance(stored, Deferred)
    assert stored.version == 1


async def test_calculate_replaces_a_day(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a P&L calculation for a stored day")
        .given("strategy 42 has P&L metrics for 2026-11-26", {"day_pnl": "10"})
        .with_request("POST", "/analytics/pnl/calculate")
        .with_header("Idempotency-Key", idempotency_key("pnl", 4))
        .with_body(calculate_request("2026-11-26"), content_type=JSON)
        .will_respond_with(200)
        .with_body(metric("2026-11-26", 2), content_type=JSON)
    )
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            stored = await client.calculate_and_store_pnl_metrics(42, date(2026, 11, 26), DAY)
    assert not isinstance(stored, Deferred)
    assert stored.version == 2


async def test_bulk_calculate(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a bulk P&L calculation")
        .given("strategy 42 has no P&L metrics")
        .with_request("POST", "/analytics/pnl/bulk-calculate")
        .with_header("Idempotency-Key", idempotency_key("pnl-bulk", 5))
        .with_body({"items": [calculate_request("2026-11-26")]}, content_type=JSON)
        .will_respond_with(200)
        .with_body(
            {"created": 1, "updated": 0, "results": [{"status": "created", "metric": metric("2026-11-26", 1)}]},
            content_type=JSON,
        )
    )
    item = PnlInput(strategy_id=42, metric_date=date(2026, 11, 26), **DAY)
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            result = await client.bulk_calculate_pnl_metrics([item])
    assert not isinstance(result, Deferred)
    assert result.created == 1


async def test_metrics(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for a strategy's daily metrics")
        .given("strategy 42 has P&L metrics")
        .with_request("GET", "/analytics/pnl/metrics")
        .with_query_parameters({"strategy_id": "42", "from_date": "2026-11-01", "limit": "100"})
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(metric("2026-11-25", 1) | {"metric_date": day("2026-11-25")}),
                "next_cursor": None,
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            page = await client.get_pnl_metrics(42, from_date=date(2026, 11, 1))
    assert page.items[0].strategy_id == 42


async def test_drawdown(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for a strategy's drawdown")
        .given("strategy 42 has P&L metrics")
        .with_request("GET", "/analytics/pnl/drawdown")
        .with_query_parameter("strategy_id", "42")
        .will_respond_with(200)
        .with_body(
            {
                "strategy_id": match.int(42),
                "max_drawdown": money("0"),
                "max_drawdown_pct": percent("0.0000"),
                "peak_date": None,
                "trough_date": None,
                "current_drawdown": money("0"),
                "high_water_mark": money("1000"),
                "days": match.int(1),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            drawdown = await client.get_pnl_drawdown(42)
    assert drawdown.days == 1


async def test_previous_cumulative(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for the cumulative P&L before a date")
        .given("strategy 42 has P&L metrics for 2026-11-25", {"day_pnl": "1000"})
        .with_request("GET", "/analytics/pnl/previous-cumulative")
        .with_query_parameters({"strategy_id": "42", "before_date": "2026-11-26"})
        .will_respond_with(200)
        .with_body(
            {
                "strategy_id": match.int(42),
                "before_date": "2026-11-26",
                "metric_date": day("2026-11-25"),
                "cumulative_pnl": money("1000"),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with AnalyticsServiceClient(base_url=str(server.url)) as client:
            previous = await client.get_previous_cumulative_pnl(42, date(2026, 11, 26))
    assert previous == Decimal(1000)
