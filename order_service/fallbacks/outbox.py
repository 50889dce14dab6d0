"""The outbox: writes that could not reach their owner, kept until they can.

One FIFO queue per service. A write is appended when its owner is unreachable (or when
older writes for that owner are still waiting, so order is kept); the relay replays the
head of each queue and removes it only after the owner answered. Every kept write carries
the idempotency key of its first attempt, so a replay after a lost answer is applied once
by the owner. A write the owner refuses (4xx) moves to the service's dead-letter list:
kept, logged, never dropped.

`RedisOutbox` is durable and shared by replicas (a Redis lock makes one relay drain a
queue at a time); `InMemoryOutbox` is for unit tests and local runs without Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import redis.asyncio as aioredis

from order_service import keys, tracing

log = logging.getLogger("order_service.outbox")

Delivery = Literal["delivered", "rejected", "unavailable"]


@dataclass(frozen=True)
class OutboxItem:
    service: str
    operation: str
    method: str
    path: str
    body: Any
    idempotency_key: str | None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    enqueued_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> OutboxItem:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Deferred:
    """What a write returns when it was kept in the outbox instead of reaching its owner."""

    outbox_id: str
    service: str
    operation: str


@dataclass(frozen=True)
class DeadLetter:
    """A kept write its owner refused, and the owner's reason."""

    item: OutboxItem
    reason: str


class Outbox(Protocol):
    async def append(self, item: OutboxItem) -> None: ...
    async def head(self, service: str) -> OutboxItem | None: ...
    async def remove_head(self, service: str, item_id: str) -> None:
        """The item left its queue: every copy of its id (an append may have been retried)."""

    async def dead_letter(self, item: OutboxItem, reason: str) -> None: ...
    async def depth(self, service: str) -> int: ...
    async def dead(self, service: str) -> list[DeadLetter]: ...
    def lock(self, service: str) -> contextlib.AbstractAsyncContextManager[bool]: ...


class InMemoryOutbox:
    """Not durable: for unit tests and local runs without Redis."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[OutboxItem]] = {}
        self._dead: dict[str, list[DeadLetter]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def append(self, item: OutboxItem) -> None:
        self._queues.setdefault(item.service, deque()).append(item)

    async def head(self, service: str) -> OutboxItem | None:
        queue = self._queues.get(service)
        return queue[0] if queue else None

    async def remove_head(self, service: str, item_id: str) -> None:
        queue = self._queues.get(service)
        if queue:  # every copy of the id, as RedisOutbox does
            self._queues[service] = deque(item for item in queue if item.id != item_id)

    async def dead_letter(self, item: OutboxItem, reason: str) -> None:
        self._dead.setdefault(item.service, []).append(DeadLetter(item, reason))
        await self.remove_head(item.service, item.id)

    async def depth(self, service: str) -> int:
        return len(self._queues.get(service, ()))

    async def dead(self, service: str) -> list[DeadLetter]:
        return list(self._dead.get(service, ()))

    @contextlib.asynccontextmanager
    async def lock(self, service: str) -> AsyncIterator[bool]:
        lock = self._locks.setdefault(service, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True


class RedisOutbox:
    """Durable and shared: a list of ids per service, the items in one hash."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = keys.OUTBOX, lock_ttl: float = 30.0) -> None:
        self._redis = client
        self._prefix = prefix
        self._lock_ttl = lock_ttl  # seconds a relay's lock outlives a relay that died holding it

    def _queue(self, service: str) -> str:
        return f"{self._prefix}:{{{service}}}:queue"  # the hash tag keeps a service's keys on one slot

    def _items(self, service: str) -> str:
        return f"{self._prefix}:{{{service}}}:items"

    def _dead(self, service: str) -> str:
        return f"{self._prefix}:{{{service}}}:dead"

    async def append(self, item: OutboxItem) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._items(item.service), item.id, item.to_json())
            pipe.rpush(self._queue(item.service), item.id)
            await pipe.execute()

    async def head(self, service: str) -> OutboxItem | None:
        while (item_id := await self._redis.lindex(self._queue(service), 0)) is not None:
            raw = await self._redis.hget(self._items(service), item_id)
            if raw is not None:
                return OutboxItem.from_json(raw)
            # an id without its item cannot be replayed; drop the id (as Redis gave it), keep going
            await self._redis.lrem(self._queue(service), 0, item_id)  # type: ignore[arg-type]  # bytes work too
            log.error("OUTBOX_ORPHAN: id %s of %s had no item", _text(item_id), service)
        return None

    async def remove_head(self, service: str, item_id: str) -> None:
        # count 0: every copy of the id, so an append retried after a lost reply is not replayed twice
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self._queue(service), 0, item_id)
            pipe.hdel(self._items(service), item_id)
            await pipe.execute()

    async def dead_letter(self, item: OutboxItem, reason: str) -> None:
        record = json.dumps({"item": asdict(item), "reason": reason})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._dead(item.service), record)
            pipe.lrem(self._queue(item.service), 0, item.id)
            pipe.hdel(self._items(item.service), item.id)
            await pipe.execute()

    async def depth(self, service: str) -> int:
        return int(await self._redis.llen(self._queue(service)))

    async def dead(self, service: str) -> list[DeadLetter]:
        rows = [json.loads(row) for row in await self._redis.lrange(self._dead(service), 0, -1)]
        return [DeadLetter(OutboxItem(**row["item"]), row["reason"]) for row in rows]

    @contextlib.asynccontextmanager
    async def lock(self, service: str) -> AsyncIterator[bool]:
        key, token = f"{self._prefix}:{{{service}}}:relay-lock", secrets.token_hex(8)
        acquired = bool(await self._redis.set(key, token, nx=True, px=int(self._lock_ttl * 1000)))
        try:
            yield acquired
        finally:
            if acquired:  # release only our own lock
                await self._redis.eval(
                    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                    1,
                    key,
                    token,
                )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


Deliver = Callable[[OutboxItem], Awaitable[tuple[Delivery, str]]]


class OutboxRelay:
    """Replays each service's queue in order through `deliver`, stopping at the first outage."""

    def __init__(
        self,
        outbox: Outbox,
        deliverers: Mapping[str, Deliver],
        *,
        on_result: Callable[[str, Delivery], None] | None = None,
        on_depth: Callable[[str, int], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._deliverers = dict(deliverers)
        self._on_result = on_result
        self._on_depth = on_depth  # told each queue's depth after a drain (the depth gauge)
        self._store_away = False

    async def drain(self, service: str, *, limit: int | None = None) -> int:
        """Deliver what can be delivered now; return how many left the queue."""
        deliver = self._deliverers[service]
        moved = 0
        async with self._outbox.lock(service) as mine:
            if not mine:
                return 0  # another relay is draining this queue
            while limit is None or moved < limit:
                item = await self._outbox.head(service)
                if item is None:
                    break
                attributes = {"outbox.entry": item.id, "outbox.kind": "clients", "peer.service": service}
                with tracing.span("outbox deliver", {**attributes, "rpc.method": item.operation}):
                    result, detail = await deliver(item)
                    tracing.set_attributes({"outbox.result": result})
                if result == "unavailable":
                    break
                if result == "rejected":
                    log.error("OUTBOX_DEAD_LETTER: %s %s %s refused: %s", service, item.operation, item.id, detail)
                    await self._outbox.dead_letter(item, detail)
                else:
                    await self._outbox.remove_head(service, item.id)
                moved += 1
                if self._on_result is not None:
                    self._on_result(service, result)
            if self._on_depth is not None:
                self._on_depth(service, await self._outbox.depth(service))
        return moved

    async def drain_all(self) -> int:
        return sum([await self.drain(service) for service in self._deliverers])

    async def run(self, interval: float, *, stop: asyncio.Event) -> None:
        """Drain every queue every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.drain_all()
                if self._store_away:
                    self._store_away = False
                    log.warning("OUTBOX_STORE_RESUMED the clients' outbox answers again")
            except (aioredis.RedisError, OSError) as exc:  # Redis away: said once, not a traceback a round
                if not self._store_away:
                    self._store_away = True
                    log.error("OUTBOX_STORE_UNAVAILABLE the clients' outbox cannot be read: %s", exc)
            except Exception:  # a relay that dies silently would keep writes forever
                log.exception("the outbox relay failed; it tries again in %.1f s", interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
