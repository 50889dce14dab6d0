"""The order endpoint applies the detector: anomalies on the order, and the reject policy."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.services.order_anomaly_detector import IST
from order_service.settings import AnomalySettings, Settings
from suites.fixtures.orders import LIMIT_ORDER, as_served
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
BIG = {**LIMIT_ORDER, "quantity": 200_000, "price": "1"}


@pytest.fixture
async def client(real_redis: RealRedis, redis_client: redis.Redis) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(real_redis.url)
    yield connection
    await connection.aclose()


def http(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://order.test",
        auth=dev_signer("algo_engine"),
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    )


def at_eleven() -> datetime:
    return datetime(2026, 11, 26, 11, 0, tzinfo=IST)


async def test_anomalies_are_listed_on_the_order_under_the_log_policy(client: aioredis.Redis) -> None:
    app = await as_served(create_app(Settings(security=dev_security_settings()), redis=client, clock=at_eleven))
    async with http(app) as api:
        placed = await api.post("/orders", json=BIG)
    assert placed.status_code == 201
    assert placed.json()["anomalies"] == [
        {"type": "large_order_size", "severity": "CRITICAL", "observed": "200000", "threshold": "50000"}
    ]


async def test_the_reject_policy_refuses_a_critical_order(
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="order_service.audit")
    settings = Settings(security=dev_security_settings(), anomaly=AnomalySettings(policy="reject_critical"))
    app = await as_served(create_app(settings, redis=client, clock=at_eleven))
    async with http(app) as api:
        refused = await api.post("/orders", json=BIG)
        small = await api.post("/orders", json={**BIG, "quantity": 60_000})  # LOW: placed
        listed = await api.get("/orders", headers={})  # algo_engine may not list: 403
    assert refused.status_code == 422
    assert refused.json()["violations"][0]["reason"].startswith("large_order_size CRITICAL")
    assert small.status_code == 201
    assert listed.status_code == 403
    events = [
        json.loads(r.getMessage().removeprefix("AUDIT_EVENT "))
        for r in caplog.records
        if r.getMessage().startswith("AUDIT_EVENT ")
    ]
    assert [e["event"] for e in events] == ["order_rejected", "order_placed", "auth_failure"]


async def test_cancellations_feed_the_rapid_cancellation_window(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    app = await as_served(create_app(Settings(security=dev_security_settings()), redis=client, clock=at_eleven))
    async with http(app) as api:
        placed = (await api.post("/orders", json={**BIG, "quantity": 1})).json()
        await api.delete(f"/orders/{placed['order_id']}")
    assert redis_client.zcard("anomaly:{ZX1234}:cancels") == 1
