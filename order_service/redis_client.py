"""The service's Redis client: redis-py's, with a closed connection reported as a Redis error.

Under uvloop, writing to a connection whose transport already closed (Redis restarted, a
link cut) raises `RuntimeError` ("the handler is closed"), which redis-py lets through: the
request answered 500 instead of "Redis is unavailable" (found by the crash tier). The
connection class here turns it into `redis.ConnectionError`, which redis-py retries on a
new connection and the service answers as it answers any Redis outage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis


class Connection(aioredis.Connection):
    """A TCP connection to Redis whose writes on a closed transport raise `redis.ConnectionError`."""

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:  # uvloop: "unable to perform operation on <TCPTransport closed=True>"
            await self.disconnect(nowait=True)
            raise aioredis.ConnectionError(f"the connection to Redis was closed: {exc}") from exc


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """A client of the Redis at `url` (`redis://`: with the connection class above)."""
    if urlsplit(url).scheme == "redis":
        options.setdefault("connection_class", Connection)
    return aioredis.Redis.from_url(url, **options)
