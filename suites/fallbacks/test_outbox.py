"""The outbox itself: FIFO per service, durable in Redis, one relay at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from order_service.fallbacks.outbox import Delivery, InMemoryOutbox, Outbox, OutboxItem, OutboxRelay, RedisOutbox
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.anyio


def item(service: str, n: int) -> OutboxItem:
    return OutboxItem(
        service=service, operation="op", method="POST", path=f"/x/{n}", body={"n": n}, idempotency_key=f"key-{n}"
    )


@pytest.fixture
def redis_url(real_redis: RealRedis, redis_client: redis.Redis) -> str:
    """The real Redis, emptied (by `redis_client`) before the test."""
    return real_redis.url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def outbox(request: pytest.FixtureRequest) -> AsyncIterator[Outbox]:
    if request.param == "memory":
        yield InMemoryOutbox()
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisOutbox(client)
    finally:
        await client.aclose()


async def test_queues_are_fifo_and_per_service(outbox: Outbox) -> None:
    for n in range(3):
        await outbox.append(item("a", n))
    await outbox.append(item("b", 9))
    seen = []
    while (head := await outbox.head("a")) is not None:
        seen.append(head.body["n"])
        await outbox.remove_head("a", head.id)
    assert seen == [0, 1, 2]
    assert await outbox.depth("b") == 1


async def test_relay_stops_at_the_first_outage_and_keeps_the_rest(outbox: Outbox) -> None:
    for n in range(5):
        await outbox.append(item("a", n))
    answers: list[Delivery] = ["delivered", "delivered", "unavailable"]
    sent: list[int] = []

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        sent.append(it.body["n"])
        return answers.pop(0) if answers else "delivered", ""

    relay = OutboxRelay(outbox, {"a": deliver})
    assert await relay.drain("a") == 2
    assert await outbox.depth("a") == 3
    assert await relay.drain("a") == 3
    assert sent == [0, 1, 2, 2, 3, 4]  # the unavailable one first again, order kept


async def test_only_one_relay_drains_a_queue_at_a_time(outbox: Outbox) -> None:
    await outbox.append(item("a", 1))
    async with outbox.lock("a") as first, outbox.lock("a") as second:
        assert (first, second) == (True, False)
    async with outbox.lock("a") as again:
        assert again


@pytest.mark.redis
async def test_redis_outbox_survives_its_client(redis_url: str) -> None:
    writer = aioredis.Redis.from_url(redis_url)
    await RedisOutbox(writer).append(item("a", 7))
    await writer.aclose()
    reader = aioredis.Redis.from_url(redis_url)
    try:
        head = await RedisOutbox(reader).head("a")
    finally:
        await reader.aclose()
    assert head is not None
    assert (head.path, head.idempotency_key) == ("/x/7", "key-7")


async def test_the_relay_loop_drains_until_stopped() -> None:
    import asyncio

    outbox = InMemoryOutbox()
    for n in range(3):
        await outbox.append(item("a", n))
    delivered: list[int] = []

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        delivered.append(it.body["n"])
        return "delivered", ""

    stop = asyncio.Event()
    task = asyncio.create_task(OutboxRelay(outbox, {"a": deliver}).run(0.01, stop=stop))
    for _ in range(100):
        if len(delivered) == 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert delivered == [0, 1, 2]
    assert await outbox.depth("a") == 0
