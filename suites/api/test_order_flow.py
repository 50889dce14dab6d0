"""The order flow with everything wired: limits, idempotency, strategy validation, P&L sync, health, metrics."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI

from harness.processes import stop_process
from harness.servers import InProcessMocks, free_port
from order_service.__main__ import exchange_clock
from order_service.api.app import create_app
from order_service.clients import ClientHub
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.services.order_anomaly_detector import IST
from order_service.settings import RateLimitSettings, Settings
from suites.fixtures import environment
from suites.fixtures.clients import FakeTime, build_hub
from suites.fixtures.orders import LIMIT_ORDER, as_served, market_order
from suites.fixtures.redis import RealRedis, start_redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
LIMIT = LIMIT_ORDER
MARKET = market_order(strategy_id=42)


def at_eleven() -> datetime:
    return datetime(2026, 11, 26, 11, 0, tzinfo=IST)


@pytest.fixture
async def stack(
    real_redis: RealRedis, redis_client: redis.Redis, mocks: InProcessMocks, fake_time: FakeTime
) -> AsyncIterator[tuple[FastAPI, ClientHub]]:
    client = aioredis.Redis.from_url(real_redis.url)
    hub = build_hub(mocks, fake_time)
    settings = Settings(security=dev_security_settings(), rate_limit=RateLimitSettings(per_account=5))
    app = await as_served(create_app(settings, redis=client, hub=hub, clock=at_eleven, wall=lambda: 1_795_700_000.5))
    yield app, hub
    await hub.aclose()
    await client.aclose()


def api(app: FastAPI, identity: str = "algo_engine") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://order.test",
        auth=dev_signer(identity),
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    )


async def test_an_idempotency_key_places_once(stack: tuple[FastAPI, ClientHub]) -> None:
    app, _ = stack
    async with api(app) as algo, api(app, "user_interface") as ui:
        first = await algo.post("/orders", json=LIMIT, headers={"Idempotency-Key": "order-key-0001"})
        again = await algo.post("/orders", json=LIMIT, headers={"Idempotency-Key": "order-key-0001"})
        other = await algo.post(
            "/orders", json={**LIMIT, "quantity": 11}, headers={"Idempotency-Key": "order-key-0001"}
        )
        listed = (await ui.get("/orders")).json()["items"]
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.json()["violations"][0]["field"] == "Idempotency-Key"
    assert [o["order_id"] for o in listed] == [first.json()["order_id"]]


async def test_the_account_limit_answers_429_with_retry_after(stack: tuple[FastAPI, ClientHub]) -> None:
    app, _ = stack
    async with api(app) as algo:
        statuses = [(await algo.post("/orders", json=LIMIT)).status_code for _ in range(6)]
        refused = await algo.post("/orders", json=LIMIT)
    assert statuses == [201] * 5 + [429]
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "rate_limited"


async def test_orders_under_a_strategy_are_validated_first(stack: tuple[FastAPI, ClientHub]) -> None:
    app, _ = stack
    async with api(app) as algo:
        active = await algo.post("/orders", json={**LIMIT, "strategy_id": 42})
        paused = await algo.post("/orders", json={**LIMIT, "strategy_id": 43})
        missing = await algo.post("/orders", json={**LIMIT, "strategy_id": 999})
    assert active.status_code == 201
    assert paused.status_code == missing.status_code == 422
    assert "does not accept orders" in paused.json()["violations"][0]["reason"]
    assert "does not exist" in missing.json()["violations"][0]["reason"]


async def journal(mocks: InProcessMocks, service: str, operation: str) -> list[dict[str, Any]]:
    async with mocks.client(service) as admin:
        return list((await admin.get("/__admin/journal", params={"operation_id": operation})).json()["entries"])


async def test_a_fill_syncs_the_strategy_pnl_through_the_outbox_or_keeps_it(
    stack: tuple[FastAPI, ClientHub], mocks: InProcessMocks
) -> None:
    app, _ = stack
    relay = app.state.relay
    async with api(app) as algo:
        filled = await algo.post("/orders", json=MARKET)
        assert filled.json()["status"] == "COMPLETE"
        assert await journal(mocks, "strategy-service", "syncStrategyPnl") == []  # the answer did not wait for it
        assert await relay.deliver_due() == 1
        synced = await journal(mocks, "strategy-service", "syncStrategyPnl")
        assert [e["status"] for e in synced] == [200]
        # one key per fill: the order and how much of it was filled
        assert synced[0]["headers"]["idempotency-key"] == f"sync-pnl-{filled.json()['order_id']}-{MARKET['quantity']}"
        async with mocks.client("strategy-service") as admin:
            await admin.post(
                "/__admin/faults", json={"kind": "status", "status": 503, "operation_id": "syncStrategyPnl"}
            )
        second = await algo.post("/orders", json=MARKET)
        assert await relay.deliver_due() == 1  # tried: the owner answered 503
    assert second.status_code == 201  # the order stands; its P&L waits in the outbox
    assert await app.state.store.outbox_counts() == {"strategy-service": {"pending": 1, "dead": 0}}


async def test_health_and_metrics_reflect_the_stack(stack: tuple[FastAPI, ClientHub], mocks: InProcessMocks) -> None:
    app, _ = stack
    async with api(app) as algo:
        await algo.post("/orders", json=LIMIT)
        ready = await algo.get("/health/ready")
        limiter = await algo.get("/health/rate-limiter")
        async with mocks.client("strategy-service") as admin:
            await admin.post("/__admin/faults", json={"kind": "status", "status": 503})
        for _ in range(3):  # 3 tries each: the breaker opens at 5 consecutive failures
            await algo.post("/orders", json={**LIMIT, "strategy_id": 7})
        breakers = (await algo.get("/health/circuit-breaker")).json()
        metrics = (await algo.get("/metrics")).text
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"]["status"] == "up"
    assert ready.json()["checks"]["config_service"]["status"] == "up"
    assert limiter.json()["limits"][0] == {"scope": "account", "limit": 5, "window_seconds": 1}
    assert breakers["status"] == "degraded"
    assert breakers["breakers"]["strategy-service"]["state"] == "open"
    for name in (
        "order_service_http_requests_total",
        "order_service_orders_total",
        "redis_usage_memory_percentage",
        "service_client_request_duration_seconds",
        "order_service_auth_failures_total",
        "service_client_fallback_total",
    ):
        assert name in metrics, name
    assert 'order_service_orders_total{status="OPEN"} 1.0' in metrics
    assert 'order_service_http_requests_total{method="POST",route="/orders",status="201"} 1.0' in metrics


async def test_a_redis_outage_fails_closed_and_recovers(redis_client: redis.Redis) -> None:
    binary = environment.binary("redis-server")  # to stop and start one of its own
    port = free_port()

    def start() -> subprocess.Popen[bytes]:
        return start_redis_server(binary, port)  # raises if it never answers

    process = start()
    client = aioredis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    app = await as_served(create_app(Settings(security=dev_security_settings()), redis=client, clock=at_eleven))
    try:
        async with api(app) as algo:
            before = await algo.post("/orders", json=LIMIT)
            stop_process(process)
            during = await algo.post("/orders", json=LIMIT)
            process = start()
            after = await algo.post("/orders", json=LIMIT)
    finally:
        stop_process(process)
        await client.aclose()
    assert before.status_code == 201
    assert during.status_code == 503
    assert during.json()["error"] == "unavailable"
    assert after.status_code == 201


def test_the_test_clock_starts_where_it_is_told_and_runs_at_real_speed() -> None:
    ticks = [100.0]
    clock = exchange_clock(datetime.fromisoformat("2026-11-26T05:30:00+00:00"), monotonic=lambda: ticks[0])
    assert clock().isoformat() == "2026-11-26T11:00:00+05:30"
    ticks[0] += 90.5
    assert clock().isoformat() == "2026-11-26T11:01:30.500000+05:30"


def test_the_test_clock_needs_an_offset_and_is_off_by_default() -> None:
    with pytest.raises(ValueError, match="needs a UTC offset"):
        exchange_clock(datetime(2026, 11, 26, 11))
    assert abs(exchange_clock(None)().timestamp() - datetime.now(IST).timestamp()) < 5
