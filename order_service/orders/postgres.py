"""The durable order store: the service's own schema in PostgreSQL (asyncpg, one pool per process).

Every table is in `order_service` (migrations in `order_service.orders.migrations`). The
promises of `order_service.orders.store` hold across processes and restarts: an order, its
fill, its key's answer and its follow-ups commit in one transaction; order ids come from
one sequence; claims and answers expire on the database's clock, the one clock every
replica shares. The relay's batches hold their entries' row locks (`FOR UPDATE SKIP
LOCKED`) while they deliver: a replica killed mid-batch lets go of them, and another
replica delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from order_service.errors import StoreUnavailableError
from order_service.orders.book import Fill, OrderNotFound, Position
from order_service.orders.migrate import Db, migrate
from order_service.orders.store import (
    Change,
    Claim,
    FollowUp,
    FollowUps,
    KeyInProgress,
    KeyReused,
    OutboxBatch,
    OutboxEntry,
    Stored,
)
from order_service.orders.suspensions import PostgresSuspensions, Suspensions

# What "the database is away" looks like to asyncpg: refused, dropped, shutting down, too slow.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    # a connection left mid-operation by a lost link ("cannot switch to state 12"): found by the crash tier
    asyncpg.InternalClientError,
)

CLAIM = "SELECT * FROM order_service.claim_key($1, $2, $3, $4, $5)"
PLACE = "SELECT * FROM order_service.place_order($1, $2, $3, $4, $5, $6, $7, $8, $9)"
LOCK_PARTITION = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
ADD_FILL = """
WITH fill AS (
    INSERT INTO order_service.fills (order_id, side, quantity, value) VALUES ($1, $6, $7, $8)
)
INSERT INTO order_service.positions AS p
    (account, tradingsymbol, exchange, product, bought, buy_value, sold, sell_value)
VALUES ($2, $3, $4, $5,
        CASE WHEN $6 = 'BUY' THEN $7 ELSE 0 END, CASE WHEN $6 = 'BUY' THEN $8 ELSE 0 END,
        CASE WHEN $6 = 'SELL' THEN $7 ELSE 0 END, CASE WHEN $6 = 'SELL' THEN $8 ELSE 0 END)
ON CONFLICT (account, tradingsymbol, exchange, product) DO UPDATE
    SET bought = p.bought + excluded.bought, buy_value = p.buy_value + excluded.buy_value,
        sold = p.sold + excluded.sold, sell_value = p.sell_value + excluded.sell_value
"""
POSITIONS = """
SELECT tradingsymbol, exchange, product, bought, buy_value, sold, sell_value
FROM order_service.positions WHERE account = $1
"""
ADD_FOLLOW_UP = """
INSERT INTO order_service.outbox
    (service, operation, method, path, body, idempotency_key, partition_key, order_id, traceparent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (idempotency_key) DO NOTHING
"""
CLAIM_DUE = """
SELECT o.id, o.service, o.operation, o.method, o.path, o.body, o.idempotency_key, o.partition_key,
       o.order_id, o.attempts, o.traceparent
FROM order_service.outbox o
WHERE o.state = 'pending' AND o.next_attempt_at <= clock_timestamp()
  AND NOT EXISTS (
      SELECT 1 FROM order_service.outbox older
      WHERE older.state = 'pending' AND older.service = o.service
        AND older.partition_key = o.partition_key AND older.id < o.id)
ORDER BY o.id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """asyncpg's "cannot reach the database" errors as the store's own."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise StoreUnavailableError(f"the order database is unavailable: {type(exc).__name__}: {exc}") from exc


async def _init_connection(connection: asyncpg.Connection) -> None:
    # jsonb's binary form is a version byte (1) before the JSON text: orjson's bytes go as they are
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda data: orjson.loads(data[1:]),
        format="binary",
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool: the store sets no session state
    (its advisory locks are the transaction's, it never LISTENs or SETs), so asyncpg's default
    reset query would be a round trip per request for nothing. Open transactions are still
    rolled back by asyncpg itself."""


def _position(row: asyncpg.Record) -> Position:
    return Position(
        row["tradingsymbol"],
        row["exchange"],
        row["product"],
        row["bought"],
        row["buy_value"],
        row["sold"],
        row["sell_value"],
    )


class PostgresOrderStore:
    """The order store in PostgreSQL at `url`; `open` (or `connect`) makes its pool and migrates the schema."""

    durable = True

    def __init__(
        self,
        url: str,
        *,
        claim_seconds: float = 10.0,
        keep_seconds: float = 86_400.0,
        pool_size: int = 10,
        command_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._claim_seconds = claim_seconds
        self._keep_seconds = keep_seconds
        self._pool_size = pool_size
        self._command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None

    @classmethod
    async def connect(cls, url: str, **options: Any) -> PostgresOrderStore:
        """A store on `url`, opened (options as for the constructor)."""
        store = cls(url, **options)
        await store.open()
        return store

    async def open(self) -> None:
        """Make the pool and bring the schema to this code's version (see `order_service.orders.migrate`)."""
        with _reachable():
            pool = await asyncpg.create_pool(
                self.url,
                min_size=min(2, self._pool_size),
                max_size=self._pool_size,
                command_timeout=self._command_timeout,
                init=_init_connection,
                reset=_keep_session,
            )
            try:
                async with pool.acquire() as connection:
                    await migrate(connection)
            except BaseException:
                await pool.close()
                raise
        self._pool = pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Db]:
        if self._pool is None:
            raise StoreUnavailableError("the order store is not open")
        pool = self._pool
        with _reachable():
            # asyncio.timeout, not acquire(timeout=): asyncpg would run each acquire in a task of its own
            async with asyncio.timeout(self._pool_timeout):
                connection = await pool.acquire()
            try:
                yield connection
            except asyncpg.InternalClientError:
                connection.terminate()  # no later request can use it; the pool opens a new one
                raise
            finally:
                await pool.release(connection, timeout=self._pool_timeout)

    _pool_timeout = 2.0  # seconds to wait for a free connection before the request is refused

    # -- idempotency ---------------------------------------------------------------------
    async def claim(self, account: str, key: str, fingerprint: str) -> Claim | Stored:
        claim = Claim(account, key, fingerprint)
        async with self._connection() as db:
            for _ in range(3):  # the row may go between the function's two statements: look again
                row = await db.fetchrow(CLAIM, account, key, fingerprint, claim.token, self._claim_seconds)
                if row is None:
                    continue
                if row["claimed"]:
                    return claim
                if row["fingerprint"] != fingerprint:
                    raise KeyReused(key)
                if row["state"] == "pending":
                    raise KeyInProgress(key)
                return Stored(row["status"], row["body"])
        raise KeyInProgress(key, "is changing hands; try again")

    async def release(self, claim: Claim) -> None:
        async with self._connection() as db:
            await db.execute(
                "DELETE FROM order_service.idempotency_keys"
                " WHERE account = $1 AND key = $2 AND token = $3 AND state = 'pending'",
                claim.account,
                claim.key,
                claim.token,
            )

    # -- orders --------------------------------------------------------------------------
    async def place(
        self, order: dict[str, Any], prefix: str, claim: Claim | None, follow_ups: FollowUps | None
    ) -> Stored:
        key = (claim.key, claim.fingerprint, claim.token) if claim else (None, None, None)
        args = (prefix, order["trading_account_id"], order["status"], order["strategy_id"], order, *key)
        async with self._connection() as db:
            if Fill.of(order) is None:  # nothing more to write: one statement, its own transaction
                row = await db.fetchrow(PLACE, *args, self._keep_seconds)
                return self._placed(row, claim)
            async with db.transaction():
                row = await db.fetchrow(PLACE, *args, self._keep_seconds)
                answer = self._placed(row, claim)
                if not answer.replayed:
                    await self._commit_follow_ups(db, answer.body, None, follow_ups)
        return answer

    @staticmethod
    def _placed(row: asyncpg.Record | None, claim: Claim | None) -> Stored:
        assert row is not None  # the function always returns its one row
        if row["replayed"] and claim is not None and row["fingerprint"] != claim.fingerprint:
            raise KeyReused(claim.key)
        return Stored(row["status"], row["body"], replayed=row["replayed"])

    async def _commit_follow_ups(
        self,
        db: Db,
        order: Mapping[str, Any],
        before: Mapping[str, Any] | None,
        follow_ups: FollowUps | None,
    ) -> None:
        fill = Fill.of(order, before)
        if fill is None:
            return
        if follow_ups is not None and order.get("strategy_id") is not None:
            # One strategy's follow-ups commit one at a time (the lock is the transaction's): each
            # snapshot is built after the one before it committed, so the outbox's order, the
            # commit order and the snapshots' as_of agree, and the owner never sees an older one last.
            await db.execute(LOCK_PARTITION, f"strategy:{order['strategy_id']}")
        account = order["trading_account_id"]
        await db.execute(
            ADD_FILL,
            order["order_id"],
            account,
            fill.tradingsymbol,
            fill.exchange,
            fill.product,
            fill.side,
            fill.quantity,
            fill.value,
        )
        if follow_ups is None:
            return
        positions = [_position(row) for row in await db.fetch(POSITIONS, account)]
        writes: Sequence[FollowUp] = follow_ups(order, positions)
        if writes:
            await db.executemany(
                ADD_FOLLOW_UP,
                [
                    (
                        w.service,
                        w.operation,
                        w.method,
                        w.path,
                        w.body,
                        w.idempotency_key,
                        w.partition,
                        order["order_id"],
                        w.traceparent,
                    )
                    for w in writes
                ],
            )

    async def get(self, account: str, order_id: str) -> dict[str, Any]:
        async with self._connection() as db:
            body: dict[str, Any] | None = await db.fetchval(
                "SELECT body FROM order_service.orders WHERE order_id = $1 AND account = $2", order_id, account
            )
        if body is None:
            raise OrderNotFound(f"order {order_id} does not exist")
        return body

    async def page(
        self, account: str, status: str | None, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT body FROM order_service.orders WHERE account = $1"
                " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR order_id < $3)"
                " ORDER BY order_id DESC LIMIT $4",
                account,
                status,
                before,
                limit + 1,
            )
        page = [row["body"] for row in rows[:limit]]
        return page, page[-1]["order_id"] if len(rows) > limit else None

    async def change(self, account: str, order_id: str, change: Change, follow_ups: FollowUps | None) -> dict[str, Any]:
        async with self._connection() as db, db.transaction():
            before = await db.fetchval(
                "SELECT body FROM order_service.orders WHERE order_id = $1 AND account = $2 FOR UPDATE",
                order_id,
                account,
            )
            if before is None:
                raise OrderNotFound(f"order {order_id} does not exist")
            after = change(before)
            await db.execute(
                "UPDATE order_service.orders SET body = $2, status = $3, updated_at = now() WHERE order_id = $1",
                order_id,
                after,
                after["status"],
            )
            await self._commit_follow_ups(db, after, before, follow_ups)
        return after

    async def positions(self, account: str) -> list[Position]:
        async with self._connection() as db:
            return [_position(row) for row in await db.fetch(POSITIONS, account)]

    # -- the outbox ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def outbox_batch(self, limit: int) -> AsyncIterator[OutboxBatch]:
        async with self._connection() as db, db.transaction():  # held while the entries are delivered
            rows = await db.fetch(CLAIM_DUE, limit)
            yield _PostgresBatch(db, [_entry(row) for row in rows])

    async def outbox_counts(self) -> dict[str, dict[str, int]]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT service, state, count(*) AS n FROM order_service.outbox"
                " WHERE state <> 'delivered' GROUP BY service, state"
            )
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["service"], {"pending": 0, "dead": 0})[row["state"]] = row["n"]
        return counts

    async def outbox_entries(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT id, service, operation, order_id, state, attempts, last_error FROM order_service.outbox"
                " WHERE state <> 'delivered' AND ($1::text IS NULL OR state = $1) ORDER BY id LIMIT $2",
                state,
                limit,
            )
        return [dict(row) for row in rows]

    async def purge(self, *, delivered_days: int = 7) -> tuple[int, int]:
        """Delete expired key answers and entries delivered longer ago than `delivered_days`; return both counts."""
        async with self._connection() as db:
            keys = await db.execute(
                "DELETE FROM order_service.idempotency_keys WHERE"
                " (state = 'done' AND expires_at < clock_timestamp())"
                " OR (state = 'pending' AND claimed_until < clock_timestamp())"
            )
            entries = await db.execute(
                "DELETE FROM order_service.outbox WHERE state = 'delivered'"
                " AND delivered_at < clock_timestamp() - make_interval(days => $1)",
                delivered_days,
            )
        return int(keys.split()[-1]), int(entries.split()[-1])

    def suspensions(self) -> Suspensions:
        return PostgresSuspensions(self._connection)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _entry(row: asyncpg.Record) -> OutboxEntry:
    follow_up = FollowUp(
        row["service"],
        row["operation"],
        row["method"],
        row["path"],
        row["body"],
        row["idempotency_key"],
        row["partition_key"],
        row["traceparent"],
    )
    return OutboxEntry(row["id"], follow_up, row["order_id"], row["attempts"])


class _PostgresBatch:
    def __init__(self, db: Db, entries: list[OutboxEntry]) -> None:
        self._db = db
        self.entries = entries

    async def delivered(self, entry: OutboxEntry) -> None:
        await self._db.execute(
            "UPDATE order_service.outbox SET state = 'delivered', delivered_at = clock_timestamp(),"
            " attempts = attempts + 1, last_error = NULL WHERE id = $1",
            entry.id,
        )

    async def retry(self, entry: OutboxEntry, error: str, delay: float) -> None:
        await self._db.execute(
            "UPDATE order_service.outbox SET attempts = attempts + 1, last_error = $2,"
            " next_attempt_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1",
            entry.id,
            error[:2000],
            delay,
        )

    async def dead(self, entry: OutboxEntry, reason: str) -> None:
        await self._db.execute(
            "UPDATE order_service.outbox SET state = 'dead', attempts = attempts + 1, last_error = $2 WHERE id = $1",
            entry.id,
            reason[:2000],
        )
