"""The outbox itself: FIFO per service, durable in Redis, one relay at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from order_service.fallbacks.outbox import (
    DeadLetter,
    Deliver,
    Delivery,
    InMemoryOutbox,
    Outbox,
    OutboxItem,
    OutboxRelay,
    RedisOutbox,
)
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


def answering(answers: dict[int, Delivery], sent: list[int] | None = None) -> Deliver:
    """A deliverer that answers by the item's number ("delivered" when not named)."""

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        if sent is not None:
            sent.append(it.body["n"])
        answer = answers.get(it.body["n"], "delivered")
        return answer, "owner said 404 no such account" if answer == "rejected" else ""

    return deliver


async def test_a_refused_write_is_dead_lettered_with_its_reason_and_the_queue_goes_on(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    kept = [item("a", n) for n in range(3)]
    for it in kept:
        await outbox.append(it)
    results: list[tuple[str, Delivery]] = []
    relay = OutboxRelay(outbox, {"a": answering({1: "rejected"})}, on_result=lambda *r: results.append(r))
    with caplog.at_level(logging.ERROR, logger="order_service.outbox"):
        assert await relay.drain("a") == 3
    assert await outbox.depth("a") == 0
    assert await outbox.dead("a") == [DeadLetter(kept[1], "owner said 404 no such account")]
    assert await outbox.dead("b") == []
    assert results == [("a", "delivered"), ("a", "rejected"), ("a", "delivered")]
    assert [r.message for r in caplog.records] == [
        f"OUTBOX_DEAD_LETTER: a op {kept[1].id} refused: owner said 404 no such account"
    ]


async def test_a_drain_stops_at_its_limit(outbox: Outbox) -> None:
    for n in range(3):
        await outbox.append(item("a", n))
    sent: list[int] = []
    relay = OutboxRelay(outbox, {"a": answering({}, sent)})
    assert await relay.drain("a", limit=2) == 2
    assert (sent, await outbox.depth("a")) == ([0, 1], 1)
    assert await relay.drain("a", limit=0) == 0


async def test_an_outage_is_no_result_and_moves_nothing(outbox: Outbox) -> None:
    await outbox.append(item("a", 0))
    results: list[tuple[str, Delivery]] = []
    relay = OutboxRelay(outbox, {"a": answering({0: "unavailable"})}, on_result=lambda *r: results.append(r))
    assert (await relay.drain("a"), await outbox.depth("a"), results) == (0, 1, [])


async def test_a_queue_another_relay_holds_is_left_alone(outbox: Outbox) -> None:
    await outbox.append(item("a", 0))
    sent: list[int] = []
    async with outbox.lock("a") as mine:
        assert mine
        assert await OutboxRelay(outbox, {"a": answering({}, sent)}).drain("a") == 0
    assert (sent, await outbox.depth("a")) == ([], 1)


async def test_drain_all_drains_every_service_and_counts_them(outbox: Outbox) -> None:
    for service, n in (("a", 0), ("a", 1), ("b", 2)):
        await outbox.append(item(service, n))
    relay = OutboxRelay(outbox, {"a": answering({}), "b": answering({})})
    assert await relay.drain_all() == 3
    assert (await outbox.depth("a"), await outbox.depth("b")) == (0, 0)


async def test_removing_a_head_that_is_not_the_given_item_keeps_the_queue(outbox: Outbox) -> None:
    await outbox.append(item("a", 0))
    await outbox.remove_head("a", "not-an-id")
    await outbox.remove_head("nobody", "not-an-id")
    assert (await outbox.depth("a"), await outbox.depth("nobody")) == (1, 0)
    assert await outbox.head("nobody") is None


def test_an_item_survives_its_json_and_each_has_its_own_id() -> None:
    before = time.time()
    first, second = item("a", 1), item("a", 1)
    assert OutboxItem.from_json(first.to_json()) == first
    assert first.id != second.id
    assert len(first.id) == 32
    assert before <= first.enqueued_at <= time.time()
    assert " " not in first.to_json()  # compact: it is stored once per kept write


async def test_the_relay_loop_outlives_a_failing_drain(caplog: pytest.LogCaptureFixture) -> None:
    outbox = InMemoryOutbox()
    await outbox.append(item("a", 0))
    calls: list[int] = []

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        calls.append(it.body["n"])
        if len(calls) == 1:
            raise RuntimeError("the first delivery breaks")
        return "delivered", ""

    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="order_service.outbox"):
        task = asyncio.create_task(OutboxRelay(outbox, {"a": deliver}).run(0.01, stop=stop))
        for _ in range(200):
            if await outbox.depth("a") == 0:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 1)
    assert (calls, await outbox.depth("a")) == ([0, 0], 0)
    assert [r.getMessage() for r in caplog.records] == ["the outbox relay failed; it tries again in 0.0 s"]


class AwayOutbox(InMemoryOutbox):
    """An outbox whose Redis is away until told otherwise."""

    away = True

    def lock(self, service: str) -> Any:  # the base's context manager, once Redis is back
        if self.away:
            raise aioredis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        return super().lock(service)


async def test_the_relay_loop_says_once_that_redis_is_away_and_once_that_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = AwayOutbox()
    stop = asyncio.Event()

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        return "delivered", ""

    with caplog.at_level(logging.WARNING, logger="order_service.outbox"):
        task = asyncio.create_task(OutboxRelay(outbox, {"a": deliver}).run(0.01, stop=stop))
        await asyncio.sleep(0.2)  # about twenty rounds with Redis away
        outbox.away = False
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split()[0] for m in messages] == ["OUTBOX_STORE_UNAVAILABLE", "OUTBOX_STORE_RESUMED"]
    assert not any(r.exc_info for r in caplog.records)  # no traceback a round


async def test_the_relay_tells_each_queue_s_depth_after_a_drain() -> None:
    outbox = InMemoryOutbox()
    for n in range(3):
        await outbox.append(item("a", n))
    depths: list[tuple[str, int]] = []
    relay = OutboxRelay(outbox, {"a": answering({2: "unavailable"})}, on_depth=lambda *d: depths.append(d))
    await relay.drain("a")
    assert depths == [("a", 1)]


async def test_the_relay_loop_waits_its_interval_between_drains() -> None:
    outbox = InMemoryOutbox()
    drains: list[float] = []

    async def deliver(it: OutboxItem) -> tuple[Delivery, str]:
        return "delivered", ""

    relay = OutboxRelay(outbox, {"a": deliver})
    original = relay.drain_all

    async def counted() -> int:
        drains.append(time.monotonic())
        return await original()

    relay.drain_all = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(0.2, stop=stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert len(drains) == 3  # at 0, 0.2 and 0.4 s


@pytest.mark.redis
async def test_redis_keeps_one_service_under_one_hash_tag(redis_url: str, redis_client: redis.Redis) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        outbox = RedisOutbox(client, prefix="box")
        kept = item("account-service", 1)
        await outbox.append(kept)
        assert set(redis_client.keys("*")) == {"box:{account-service}:queue", "box:{account-service}:items"}
        await outbox.dead_letter(kept, "refused")
        assert set(redis_client.keys("*")) == {"box:{account-service}:dead"}  # queue and item gone with it
        await outbox.append(item("account-service", 2))
        head = await outbox.head("account-service")
        assert head is not None
        await outbox.remove_head("account-service", head.id)
        assert set(redis_client.keys("*")) == {"box:{account-service}:dead"}
    finally:
        await client.aclose()


@pytest.mark.redis
@pytest.mark.parametrize("decoded", [False, True], ids=["bytes", "text"])
async def test_redis_drops_an_id_without_its_item_and_goes_on(
    redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture, decoded: bool
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=decoded)
    try:
        outbox = RedisOutbox(client)
        redis_client.rpush("outbox:{a}:queue", "orphan-1", "orphan-1", "orphan-2")  # a doubled id goes at once
        await outbox.append(item("a", 5))
        with caplog.at_level(logging.ERROR, logger="order_service.outbox"):
            head = await outbox.head("a")
        assert head is not None
        assert head.body == {"n": 5}
        assert await outbox.depth("a") == 1
        assert [r.message for r in caplog.records] == [
            "OUTBOX_ORPHAN: id orphan-1 of a had no item",
            "OUTBOX_ORPHAN: id orphan-2 of a had no item",
        ]
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_lock_expires_and_frees_only_its_own(redis_url: str, redis_client: redis.Redis) -> None:
    client = aioredis.Redis.from_url(redis_url)
    key = "outbox:{a}:relay-lock"
    try:
        async with RedisOutbox(client).lock("a") as mine:
            assert mine
            assert 29_000 < redis_client.pttl(key) <= 30_000  # the default: 30 s
        outbox = RedisOutbox(client, lock_ttl=5)
        async with outbox.lock("a") as mine:
            assert mine
            assert 4_000 < redis_client.pttl(key) <= 5_000
        assert redis_client.exists(key) == 0
        async with outbox.lock("a") as mine:
            redis_client.set(key, "another-relay")  # ours expired and another relay took it
        assert redis_client.get(key) == "another-relay"
        async with outbox.lock("a") as mine:
            assert not mine
        assert redis_client.get(key) == "another-relay"
    finally:
        await client.aclose()


async def test_a_write_appended_twice_is_delivered_once(outbox: Outbox, caplog: pytest.LogCaptureFixture) -> None:
    """An append retried after its reply was lost leaves the id twice in the queue; one delivery ends both."""
    kept = item("a", 1)
    await outbox.append(kept)
    await outbox.append(kept)
    await outbox.append(item("a", 2))
    sent: list[int] = []
    with caplog.at_level(logging.ERROR, logger="order_service.outbox"):
        assert await OutboxRelay(outbox, {"a": answering({}, sent)}).drain("a") == 2
    assert (sent, await outbox.depth("a")) == ([1, 2], 0)
    assert caplog.records == []  # no orphan was left behind


async def test_dead_letters_keep_their_order(outbox: Outbox) -> None:
    kept = [item("a", n) for n in range(3)]
    for it in kept:
        await outbox.append(it)
    await OutboxRelay(outbox, {"a": answering(dict.fromkeys(range(3), "rejected"))}).drain("a")
    assert [letter.item for letter in await outbox.dead("a")] == kept


@pytest.mark.redis
async def test_each_redis_outbox_write_is_one_transaction(redis_url: str, redis_client: redis.Redis) -> None:
    """Item and id are written and removed together (MULTI/EXEC): a crash never leaves one without the other."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        outbox = RedisOutbox(client)
        first, second = item("a", 1), item("a", 2)
        redis_client.config_resetstat()
        await outbox.append(first)
        await outbox.append(second)
        await outbox.remove_head("a", first.id)
        await outbox.dead_letter(second, "refused")
        stats = redis_client.info("commandstats")
        assert (stats["cmdstat_multi"]["calls"], stats["cmdstat_exec"]["calls"]) == (4, 4)
    finally:
        await client.aclose()


async def test_a_refused_write_appended_twice_is_dead_lettered_once(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    kept = item("a", 1)
    await outbox.append(kept)
    await outbox.append(kept)
    with caplog.at_level(logging.ERROR, logger="order_service.outbox"):
        assert await OutboxRelay(outbox, {"a": answering({1: "rejected"})}).drain("a") == 1
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["OUTBOX_DEAD_LETTER"]  # no orphan left
    assert await outbox.depth("a") == 0
    assert [letter.item for letter in await outbox.dead("a")] == [kept]
