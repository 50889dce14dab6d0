"""What only PostgreSQL can show: restarts, replicas sharing one database, migrations."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from order_service.errors import StoreUnavailableError
from order_service.orders.book import Position
from order_service.orders.migrate import MigrationError, migrate, migrations
from order_service.orders.postgres import PostgresOrderStore
from order_service.orders.store import Claim, FollowUp, KeyInProgress, Stored
from suites.orders.conftest import limit, market
from suites.orders.test_store import PREFIX, pnl_follow_up

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[tuple[PostgresOrderStore, PostgresOrderStore]]:
    """Two stores on one database, as two replicas of the service have."""
    one = await PostgresOrderStore.connect(database_url)
    two = await PostgresOrderStore.connect(database_url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_order_ids_go_on_after_a_restart(database_url: str) -> None:
    before = await PostgresOrderStore.connect(database_url)
    first = (await before.place(limit(), PREFIX, None, None)).body["order_id"]
    claim = await before.claim("ZX1234", "key-restart-1", "a")
    assert isinstance(claim, Claim)
    keyed = (await before.place(limit(), PREFIX, claim, None)).body
    await before.close()
    after = await PostgresOrderStore.connect(database_url)  # the service restarted
    try:
        again = (await after.place(limit(), PREFIX, None, None)).body["order_id"]
        assert int(again) > int(keyed["order_id"]) > int(first)  # never ...000000001 again
        answer = await after.claim("ZX1234", "key-restart-1", "a")
        assert answer == Stored(201, keyed)  # the key still names its own order
        assert await after.get("ZX1234", keyed["order_id"]) == keyed
    finally:
        await after.close()


async def test_replicas_placing_at_once_never_share_an_id(
    replicas: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    async def place(store: PostgresOrderStore) -> str:
        return str((await store.place(limit(), PREFIX, None, None)).body["order_id"])

    ids = await asyncio.gather(*(place(replicas[n % 2]) for n in range(40)))
    assert len(set(ids)) == 40


async def test_replicas_racing_on_one_key_place_one_order(
    replicas: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    one, two = replicas
    claims = [Claim("ZX1234", "key-race-0001", "a", token=f"replica-{n}") for n in range(2)]
    answers = await asyncio.gather(
        one.place(limit(), PREFIX, claims[0], None), two.place(limit(), PREFIX, claims[1], None)
    )
    assert answers[0].body == answers[1].body
    assert sorted(a.replayed for a in answers) == [False, True]
    page, _ = await one.page("ZX1234", None, 10, None)
    assert len(page) == 1


async def test_replicas_claim_disjoint_entries_and_a_partition_waits_for_its_head(
    replicas: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    one, two = replicas
    for strategy in (1, 1, 2, 3):
        await one.place(market(strategy_id=strategy), PREFIX, None, pnl_follow_up)
    async with one.outbox_batch(2) as first:
        async with two.outbox_batch(10) as second:
            mine = {e.follow_up.partition for e in first.entries}
            theirs = {e.follow_up.partition for e in second.entries}
            assert mine == {"strategy:1", "strategy:2"}
            assert theirs == {"strategy:3"}  # strategy 1's second entry waits behind its locked head
            await second.delivered(second.entries[0])
        await first.delivered(first.entries[0])
        await first.delivered(first.entries[1])
    async with two.outbox_batch(10) as third:
        assert [e.follow_up.partition for e in third.entries] == ["strategy:1"]


async def test_an_entry_claimed_by_a_replica_that_died_is_claimed_again(
    replicas: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    one, two = replicas
    await one.place(market(strategy_id=1), PREFIX, None, pnl_follow_up)

    async def die_mid_batch() -> None:
        async with one.outbox_batch(10) as batch:
            assert len(batch.entries) == 1
            raise RuntimeError("the replica died before it recorded the delivery")

    with pytest.raises(RuntimeError):
        await die_mid_batch()
    async with two.outbox_batch(10) as batch:
        assert len(batch.entries) == 1
        assert batch.entries[0].attempts == 0


async def test_a_database_that_is_away_is_a_store_error(database_url: str) -> None:
    store = PostgresOrderStore("postgresql://postgres@127.0.0.1:9/none", pool_size=1)
    with pytest.raises(StoreUnavailableError):
        await store.open()
    with pytest.raises(StoreUnavailableError):  # not open: refused, not an AttributeError
        await store.get("ZX1234", "261126000000001")


async def test_migrations_apply_once_even_when_replicas_start_together(database_url: str) -> None:
    connections = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate(c) for c in connections))
        assert sorted(len(a) for a in applied) == [0, 0, len(migrations())]
        assert await migrate(connections[0]) == []
        versions = await connections[0].fetch("SELECT version FROM order_service.schema_migrations ORDER BY 1")
        assert [r["version"] for r in versions] == [m.version for m in migrations()]
    finally:
        for connection in connections:
            await connection.close()


async def test_an_edited_or_unknown_migration_stops_the_start(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection)
        await connection.execute("UPDATE order_service.schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(connection)
        await connection.execute(
            "UPDATE order_service.schema_migrations SET checksum = $1 WHERE version = 1", migrations()[0].checksum
        )
        await connection.execute(
            "INSERT INTO order_service.schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="newer release"):
            await migrate(connection)
    finally:
        await connection.close()


async def test_the_schema_is_the_service_s_own(pg_store: PostgresOrderStore, database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await connection.close()
    assert {r["table_schema"] for r in tables} == {"order_service"}
    assert {r["table_name"] for r in tables} == {
        "orders",
        "fills",
        "positions",
        "idempotency_keys",
        "outbox",
        "critical_anomalies",
        "suspensions",
        "schema_migrations",
    }


def test_the_migrate_command_applies_then_finds_the_schema_up_to_date(database_url: str) -> None:
    env = {**os.environ, "ORDER_SERVICE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "order_service", "migrate"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m.version:04d}_{m.name}" for m in migrations()]
    assert (again.returncode, again.stdout.strip()) == (0, "the schema is up to date")
    unset = subprocess.run(
        command,
        env={k: v for k, v in env.items() if k != "ORDER_SERVICE_DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unset.returncode == 2
    assert "ORDER_SERVICE_DATABASE_URL is not set" in unset.stderr


async def test_the_purge_drops_expired_answers_and_old_deliveries_only(database_url: str) -> None:
    store = await PostgresOrderStore.connect(database_url, claim_seconds=0.2, keep_seconds=0.2)
    try:
        claim = await store.claim("ZX1234", "key-purge-01", "a")
        assert isinstance(claim, Claim)
        await store.place(market(strategy_id=1), PREFIX, claim, pnl_follow_up)
        await store.place(market(strategy_id=2), PREFIX, None, pnl_follow_up)
        async with store.outbox_batch(10) as batch:
            await batch.delivered(batch.entries[0])  # the other stays pending
        await asyncio.sleep(0.3)  # the key's answer is past its keep time
        keys, entries = await store.purge(delivered_days=0)
        assert (keys, entries) == (1, 1)
        assert await store.outbox_counts() == {"strategy-service": {"pending": 1, "dead": 0}}
        assert isinstance(await store.claim("ZX1234", "key-purge-01", "a"), Claim)  # the key is free again
    finally:
        await store.close()


async def test_fifty_requests_at_once_five_per_key_place_one_order_per_key(pg_store: PostgresOrderStore) -> None:
    async def request(n: int) -> tuple[str, str]:
        key = f"load-key-{n % 10:04d}"
        for _ in range(100):
            try:
                outcome = await pg_store.claim("ZX1234", key, "same body")
            except KeyInProgress:
                await asyncio.sleep(0.01)  # the first request under this key is still running
                continue
            if isinstance(outcome, Stored):
                return key, outcome.body["order_id"]
            return key, (await pg_store.place(limit(), PREFIX, outcome, None)).body["order_id"]
        raise AssertionError(f"{key} never answered")

    answers = await asyncio.gather(*(request(n) for n in range(50)))
    by_key: dict[str, set[str]] = {}
    for key, order_id in answers:
        by_key.setdefault(key, set()).add(order_id)
    assert all(len(ids) == 1 for ids in by_key.values()), by_key
    page, _ = await pg_store.page("ZX1234", None, 100, None)
    assert len(page) == 10


def test_one_strategys_follow_ups_commit_in_the_order_of_their_snapshots(database_url: str) -> None:
    """Found by the crash tier: two replicas filling orders of one strategy at once.

    Replica A builds its P&L snapshot (as_of t1) and is slow to commit; replica B builds a
    later one (t2) and commits first. The relay delivers B's, then the owner refuses A's as
    older than what it holds: a dead letter, a fill never synced. The store must let one
    strategy's follow-ups commit one at a time, each built after the one before committed.
    """
    import threading
    import time as clock

    b_committed = threading.Event()
    stamps: dict[str, float] = {}

    def snapshot(name: str, wait: bool) -> Callable[..., list[FollowUp]]:
        def build(order: Mapping[str, Any], positions: Sequence[Position]) -> list[FollowUp]:
            stamps[name] = clock.time()
            writes = pnl_follow_up(order, positions)
            writes = [replace(w, body={"as_of": stamps[name]}) for w in writes]
            if wait:
                b_committed.wait(timeout=2.0)  # A is slow to commit: B may go first if nothing stops it
            return writes

        return build

    async def replica(name: str, symbol: str, wait: bool, delay: float) -> None:
        await asyncio.sleep(delay)
        store = await PostgresOrderStore.connect(database_url)
        try:
            await store.place(market(strategy_id=42, tradingsymbol=symbol), PREFIX, None, snapshot(name, wait))
        finally:
            await store.close()
        if name == "B":
            b_committed.set()

    a = threading.Thread(target=lambda: asyncio.run(replica("A", "INFY", True, 0.0)))
    b = threading.Thread(target=lambda: asyncio.run(replica("B", "TCS", False, 0.5)))
    a.start()
    b.start()
    a.join(timeout=30)
    b.join(timeout=30)

    async def outbox() -> list[float]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch("SELECT body FROM order_service.outbox ORDER BY id")
        finally:
            await connection.close()
        return [
            json.loads(row["body"])["as_of"] if isinstance(row["body"], str) else row["body"]["as_of"] for row in rows
        ]

    assert asyncio.run(outbox()) == sorted(stamps.values())  # delivered in id order: oldest snapshot first


async def test_a_connection_left_mid_operation_is_unavailable_and_replaced(pg_store: PostgresOrderStore) -> None:
    """Found by the crash tier: after PostgreSQL's restart, a place answered 500 with asyncpg's
    InternalClientError ("cannot switch to state 12; another operation is in progress")."""
    with pytest.raises(StoreUnavailableError, match="another operation"):
        async with pg_store._connection():
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    for _ in range(3):  # every connection of the pool still works (the broken one was replaced)
        assert (await pg_store.place(limit(), PREFIX, None, None)).body["order_id"]
