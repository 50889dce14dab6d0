"""Idempotent order placement: the first answer to an `Idempotency-Key` is the answer, stored in Redis.

`begin` claims the key (SET NX) before the order is placed; a repeat while the first is in
progress is a 409, a repeat after it returns the stored status and body, and a repeat with
a different request is a 422. Keys expire after `ttl_seconds`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from order_service import keys

PENDING = "pending"


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any


class KeyInProgress(Exception):
    pass


class KeyReused(Exception):
    pass


def fingerprint(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


class IdempotencyStore:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int = 86_400) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def _key(account: str, key: str) -> str:
        return f"{keys.IDEMPOTENCY}:{{{account}}}:{key}"

    async def begin(self, account: str, key: str, print_: str) -> Stored | None:
        """None: go ahead (the key is now claimed); a `Stored` answer: send it again."""
        name = self._key(account, key)
        claim = json.dumps({"state": PENDING, "fingerprint": print_})
        if await self._redis.set(name, claim, nx=True, ex=self._ttl):
            return None
        raw = await self._redis.get(name)
        if raw is None:  # expired between the two calls: claim it again
            return await self.begin(account, key, print_)
        record = json.loads(raw)
        if record["fingerprint"] != print_:
            raise KeyReused(f"Idempotency-Key {key} was used for a different request")
        if record["state"] == PENDING:
            raise KeyInProgress(f"the request with Idempotency-Key {key} is still in progress")
        return Stored(record["status"], record["body"])

    async def finish(self, account: str, key: str, print_: str, status: int, body: Any) -> None:
        record = {"state": "done", "fingerprint": print_, "status": status, "body": body}
        await self._redis.set(self._key(account, key), json.dumps(record), ex=self._ttl)

    async def abandon(self, account: str, key: str) -> None:
        await self._redis.delete(self._key(account, key))
