"""The service's Redis client on uvloop: a connection closed underneath is a Redis error, never a 500."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
import uvloop

from order_service.redis_client import redis_client
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.redis


def test_a_write_on_a_closed_transport_is_a_connection_error(real_redis: RealRedis) -> None:
    """Found by the crash tier: Redis restarted, and a place answered 500 with uvloop's RuntimeError."""

    async def closed_underneath() -> BaseException | None:
        client = redis_client(real_redis.url, socket_connect_timeout=0.5, socket_timeout=1.0)
        try:
            await client.ping()
            [connection] = client.connection_pool._available_connections
            assert connection._writer is not None
            connection._writer.transport.close()  # the link went away; redis-py still thinks it is connected
            await asyncio.sleep(0.01)
            try:
                await client.ping()
            except Exception as exc:
                return exc
            return None
        finally:
            await client.aclose()

    error = uvloop.run(closed_underneath())
    assert error is None or isinstance(error, aioredis.ConnectionError), repr(error)
    assert uvloop.run(_answers_again(real_redis.url))


async def _answers_again(url: str) -> bool:
    client = redis_client(url)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()
