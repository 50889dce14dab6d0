"""Old defects planted back into the order service, to show the crash tier catches each one.

`python -m suites.chaos.defects NAME serve --dev --host H --port P` patches one component of
the reference implementation in this process, then runs it as `python -m order_service`
would. The patches live here, in the tests, never behind a switch in shipped code:

- `counter_ids`: order ids from a counter in each process's memory (two replicas, or one
  restarted, hand out the same ids; a new order overwrites an acknowledged one);
- `answer_after_response`: the Idempotency-Key's answer is recorded a second after the
  response went out (a replica killed in between leaves the key naming nothing);
- `sync_in_request`: the strategy's P&L sync is sent inside the order request (the answer
  waits on the owner);
- `replay_without_epoch`: the replay store ignores its epoch (after Redis lost its data, a
  captured signed request is accepted again).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from order_service.api.desk import OrderDesk
from order_service.clients.models import PnlSync
from order_service.orders.postgres import PostgresOrderStore
from order_service.orders.store import Claim, Stored
from order_service.security.verifying import BeforeEpoch, RedisReplayStore

Order = dict[str, Any]
UPSERT_ORDER = """
INSERT INTO order_service.orders (order_id, account, status, strategy_id, body) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (order_id) DO UPDATE
SET account = excluded.account, status = excluded.status, strategy_id = excluded.strategy_id, body = excluded.body
"""
COMPLETE_KEY = """
UPDATE order_service.idempotency_keys
SET state = 'done', order_id = $3, status = 201, body = $4, expires_at = now() + interval '1 day'
WHERE account = $1 AND key = $2
"""


def counter_ids() -> None:
    counter = itertools.count(1)

    async def place(
        self: PostgresOrderStore, order: dict[str, Any], prefix: str, claim: Claim | None, follow_ups: Any
    ) -> Stored:
        stored = {**order, "order_id": f"{prefix}{next(counter):09d}"}
        account = stored["trading_account_id"]
        async with self._connection() as db, db.transaction():
            await db.execute(UPSERT_ORDER, stored["order_id"], account, stored["status"], stored["strategy_id"], stored)
            if claim is not None:
                await db.execute(COMPLETE_KEY, account, claim.key, stored["order_id"], stored)
            await self._commit_follow_ups(db, stored, None, follow_ups)
        return Stored(201, stored)

    PostgresOrderStore.place = place  # type: ignore[method-assign]


def answer_after_response() -> None:
    original = PostgresOrderStore.place
    later: set[asyncio.Task[None]] = set()

    async def place(
        self: PostgresOrderStore, order: dict[str, Any], prefix: str, claim: Claim | None, follow_ups: Any
    ) -> Stored:
        answer = await original(self, order, prefix, None, follow_ups)  # the key is left pending

        async def record(claim: Claim) -> None:
            await asyncio.sleep(1.0)
            async with self._connection() as db:
                await db.execute(COMPLETE_KEY, claim.account, claim.key, answer.body["order_id"], answer.body)

        if claim is not None:
            task = asyncio.ensure_future(record(claim))
            later.add(task)
            task.add_done_callback(later.discard)
        return answer

    PostgresOrderStore.place = place  # type: ignore[method-assign]


def sync_in_request() -> None:
    original = OrderDesk._place

    async def place(self: OrderDesk, account: str, identity: str, request: Any, claim: Claim | None) -> Stored:
        answer = await original(self, account, identity, request, claim)
        body = answer.body
        if body["filled_quantity"] and body.get("strategy_id") is not None and self.hub is not None:
            pnl = PnlSync(as_of=self.clock(), realized_pnl=Decimal(0), unrealized_pnl=Decimal(0), total_pnl=Decimal(0))
            await self.hub.strategy.sync_strategy_pnl(body["strategy_id"], pnl)
        return answer

    OrderDesk._place = place  # type: ignore[method-assign]


def replay_without_epoch() -> None:
    original = RedisReplayStore.first_seen

    async def first_seen(self: RedisReplayStore, signature: str, timestamp: int, ttl: int) -> bool:
        try:
            return await original(self, signature, timestamp, ttl)
        except BeforeEpoch:
            return True  # the defect: Redis lost its data, so every signature looks new

    RedisReplayStore.first_seen = first_seen  # type: ignore[method-assign]


DEFECTS: dict[str, Callable[[], None]] = {
    "counter_ids": counter_ids,
    "answer_after_response": answer_after_response,
    "sync_in_request": sync_in_request,
    "replay_without_epoch": replay_without_epoch,
}


def command(defect: str) -> list[str]:
    """The replica command of a crash round that runs the order service with `defect` planted."""
    return [sys.executable, "-m", "suites.chaos.defects", defect, "serve", "--dev"]


if __name__ == "__main__":
    from order_service.__main__ import main

    DEFECTS[sys.argv[1]]()
    raise SystemExit(main(sys.argv[2:]))
