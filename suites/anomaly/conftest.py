"""The anomaly suites' fixtures: a real Redis client, the fixed calendar, a detector on both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from order_service.services.order_anomaly_detector import OrderAnomalyDetector
from order_service.settings import AnomalySettings
from suites.anomaly.helpers import FixedCalendar
from suites.fixtures.redis import RealRedis


@pytest.fixture
async def client(real_redis: RealRedis, redis_client: redis.Redis) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(real_redis.url)
    yield connection
    await connection.aclose()


@pytest.fixture
def calendar() -> FixedCalendar:
    return FixedCalendar()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def detector(client: aioredis.Redis, calendar: FixedCalendar, registry: CollectorRegistry) -> OrderAnomalyDetector:
    return OrderAnomalyDetector(client, AnomalySettings(), calendar=calendar, registry=registry)
