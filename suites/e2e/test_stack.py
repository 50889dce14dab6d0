"""The order service and every mock as real processes, with real Redis and PostgreSQL (what `make mocks` starts).

Signed orders are placed, modified and cancelled; an anomaly is raised and logged; the
strategy service goes down, the breaker opens and P&L syncs wait in the outbox; it comes
back, the breaker closes and the outbox drains by itself; `/health/*` and `/metrics` say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from order_service.security.dev import dev_signer, dev_user_token
from suites.fixtures import environment
from suites.fixtures.orders import LIMIT_ORDER, market_order
from suites.fixtures.postgres import server_binaries

pytestmark = [pytest.mark.anyio, pytest.mark.live]
LIMIT = LIMIT_ORDER
PINNED = "2026-11-26T11:00:00+05:30"  # a trading Thursday on the calendar mock's 2026 list


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[LiveMocks, str]]:
    environment.binary("redis-server")  # the stack needs it
    server_binaries()  # and its database
    order_port = free_port()
    live = start_mock_servers(
        tmp_path / "stack.log",
        extra=("--redis-port", str(free_port()), "--order-service-port", str(order_port)),
        env={
            "ORDER_SERVICE_TEST_CLOCK_START": PINNED,  # the off-hours rule must not depend on the day CI runs
            "ORDER_SERVICE_BREAKER__RESET_TIMEOUT": "1",
            "ORDER_SERVICE_BREAKER__FAILURE_THRESHOLD": "3",
            "ORDER_SERVICE_OUTBOX_RELAY_INTERVAL": "0.2",
            "ORDER_SERVICE_RETRY__MAX_ATTEMPTS": "1",
        },
    )
    try:
        yield live, f"http://127.0.0.1:{order_port}"
    finally:
        assert stop_mock_servers(live) == 0


def order_client(url: str, identity: str = "algo_engine") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        auth=dev_signer(identity),
        timeout=10,
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    )


async def eventually(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.1)


async def test_orders_anomalies_outage_and_recovery(stack: tuple[LiveMocks, str]) -> None:
    live, url = stack
    strategy_admin = live.admin("strategy-service")
    async with order_client(url) as algo, order_client(url, "risk_manager") as risk, httpx.AsyncClient() as plain:
        ready = await plain.get(f"{url}/health/ready")
        assert ready.status_code == 200, ready.text

        placed = (await algo.post("/orders", json={**LIMIT, "strategy_id": 42})).json()
        modified = await algo.patch(f"/orders/{placed['order_id']}", json={"quantity": 20})
        cancelled = await risk.delete(f"/orders/{placed['order_id']}")
        assert (modified.json()["quantity"], cancelled.json()["status"]) == (20, "CANCELLED")

        assert placed["anomalies"] == []  # a Thursday at 11:00 IST: inside the session, no anomaly
        assert placed["placed_at"].startswith("2026-11-26T11:")
        large = (await algo.post("/orders", json={**LIMIT, "quantity": 200_000, "price": "1"})).json()
        by_type = {a["type"]: a["severity"] for a in large["anomalies"]}
        assert by_type == {"large_order_size": "CRITICAL"}  # and no off-hours finding: the clock is pinned
        assert "ORDER_ANOMALY_CRITICAL" in live.output()

        # the strategy service goes down: validation serves its last answer, P&L syncs wait
        await plain.post(f"{strategy_admin}/faults", json={"kind": "status", "status": 503})
        market = market_order(strategy_id=42)
        for _ in range(3):
            filled = await algo.post("/orders", json=market)
            assert filled.status_code == 201, filled.text
        pending = 'order_service_outbox_entries{service="strategy-service",state="pending"}'

        async def waiting() -> bool:
            metrics = (await plain.get(f"{url}/metrics")).text
            return f"{pending} 3.0" in metrics

        await eventually(waiting)
        breakers = (await plain.get(f"{url}/health/circuit-breaker")).json()
        assert breakers["breakers"]["strategy-service"]["state"] in ("open", "half_open")
        ready = (await plain.get(f"{url}/health/ready")).json()
        assert ready["checks"]["order_store"] == {"status": "up", "detail": "PostgreSQL"}
        assert ready["checks"]["outbox"]["counts"]["strategy-service"] == {"pending": 3, "dead": 0}

        # it comes back: the breaker closes and the outbox drains by itself
        await plain.delete(f"{strategy_admin}/faults")

        async def drained() -> bool:
            entries = (
                await plain.get(f"{strategy_admin}/journal", params={"operation_id": "syncStrategyPnl", "status": 200})
            ).json()["entries"]
            return len(entries) >= 3

        await eventually(drained)

        async def closed() -> bool:
            state = (await plain.get(f"{url}/health/circuit-breaker")).json()
            return bool(state["breakers"]["strategy-service"]["state"] == "closed")

        await eventually(closed)
        metrics = (await plain.get(f"{url}/metrics")).text
        assert 'service_client_outbox_delivered_total{result="delivered",service="strategy-service"} 3.0' in metrics
        assert f"{pending} 0.0" in metrics  # accurate after the drain
        redis_health = await plain.get(f"{url}/health/redis")
        assert redis_health.status_code == 200
        assert "order_service_http_requests_total" in metrics
