"""Integrity under restarts, kills and slow owners, with real processes (`mocks up`, PostgreSQL, Redis).

Each test is one of the failures issue 15 found in the reference service before it kept
its state in PostgreSQL: ids restarting after a restart, writes lost with a killed process,
an order answer held by a slow owner, no audit lines from `serve`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from suites.e2e.replicas import PINNED, Replicas, client, eventually, ready
from suites.fixtures import environment
from suites.fixtures.orders import LIMIT_ORDER, market_order
from suites.fixtures.postgres import server_binaries
from suites.fixtures.processes import processes

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.postgres]


class Stack:
    def __init__(self, live: LiveMocks, port: int) -> None:
        self.live = live
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def order_service_pids(self) -> list[int]:
        """The pids of the order service `up` runs on this stack's port (read from /proc)."""
        wanted = ["order_service", "serve", "--port", str(self.port)]
        return [pid for pid, _, argv in processes() if all(part in argv for part in wanted)]

    def audit_events(self) -> list[dict[str, Any]]:
        """The `AUDIT_EVENT` lines `serve` wrote (JSON lines on its stdout, which `up` passes on)."""
        events = []
        for line in self.live.output().splitlines():
            if line.startswith("{") and '"event":"AUDIT_EVENT"' in line:
                events.append(json.loads(line)["fields"])
        return events


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    environment.binary("redis-server")
    server_binaries()
    port = free_port()
    live = start_mock_servers(
        tmp_path / "stack.log",
        extra=(
            "--redis-port",
            str(free_port()),
            "--postgres-port",
            str(free_port()),
            "--order-service-port",
            str(port),
        ),
        env={
            "ORDER_SERVICE_TEST_CLOCK_START": PINNED,
            "ORDER_SERVICE_OUTBOX_RELAY_INTERVAL": "0.2",
            "ORDER_SERVICE_RETRY__MAX_ATTEMPTS": "1",
            "ORDER_SERVICE_BREAKER__RESET_TIMEOUT": "0.5",
        },
    )
    try:
        yield Stack(live, port)
    finally:
        assert stop_mock_servers(live) == 0


async def test_a_killed_order_service_keeps_its_orders_keys_ids_and_queued_writes(stack: Stack) -> None:
    strategy = stack.live.service("strategy-service")
    await asyncio.to_thread(strategy.fault, kind="status", status=503, operation_id="syncStrategyPnl")
    keys = [f"kill-{n}-{uuid.uuid4().hex[:8]}" for n in range(3)]
    async with client(stack.url) as algo, client(stack.url, "user_interface") as ui:
        placed = []
        for key in keys:
            answer = await algo.post("/orders", json=market_order(strategy_id=42), headers={"idempotency-key": key})
            assert answer.status_code == 201, answer.text
            placed.append(answer.json())
        (pid,) = stack.order_service_pids()
        os.kill(pid, signal.SIGKILL)  # no shutdown, no flush: what is not committed is lost
        await eventually(lambda: ready(stack.url), what="the order service started again by `up`")
        assert stack.order_service_pids() != [pid]

        for key, first in zip(keys, placed, strict=True):
            again = await algo.post("/orders", json=market_order(strategy_id=42), headers={"idempotency-key": key})
            assert again.status_code == 201
            assert again.json() == first  # the key still names its own order
            read = await ui.get(f"/orders/{first['order_id']}")
            assert read.status_code == 200, read.text
            assert read.json()["order_id"] == first["order_id"]
        newer_answer = await algo.post("/orders", json=LIMIT_ORDER)
        assert newer_answer.status_code == 201, newer_answer.text
        newer = newer_answer.json()
        assert int(newer["order_id"]) > max(int(o["order_id"]) for o in placed)  # ids go on, never again ...001

    await asyncio.to_thread(strategy.clear_faults)

    async def synced() -> bool:
        journal = await asyncio.to_thread(strategy.journal, operation_id="syncStrategyPnl")
        return sum(1 for e in journal if e["status"] == 200) >= len(placed)

    await eventually(synced, what="the P&L syncs queued before the kill reaching the strategy service")
    for order in placed:
        await asyncio.to_thread(strategy.assert_applied_once, f"sync-pnl-{order['order_id']}-10")
    audited = [e["order_id"] for e in stack.audit_events() if e["event"] == "order_placed"]
    assert [o["order_id"] for o in placed] == audited[:3]  # `serve` wrote its audit lines


async def test_a_slow_owner_does_not_hold_the_order_answer(stack: Stack) -> None:
    strategy = stack.live.service("strategy-service")
    await asyncio.to_thread(strategy.fault, kind="latency", delay_ms=6000, operation_id="syncStrategyPnl")
    async with client(stack.url, timeout=5.0) as algo:
        await algo.post("/orders", json=LIMIT_ORDER)  # warm: discovery, the strategy's validation cached
        started = time.monotonic()
        filled = await algo.post("/orders", json=market_order(strategy_id=42))
        took = time.monotonic() - started
    assert filled.status_code == 201
    assert filled.json()["status"] == "COMPLETE"
    assert took < 2.0, f"the answer took {took:.1f} s: it waited on the strategy service"


@pytest.fixture
async def replicas(tmp_path: Path, database_url: str) -> AsyncIterator[Replicas]:
    environment.binary("redis-server")
    live = start_mock_servers(tmp_path / "mocks.log", extra=("--redis-port", str(free_port()), "--no-order-service"))
    pair = Replicas(live, database_url, tmp_path)
    try:
        pair.start()
        for url in pair.urls:
            await eventually(lambda url=url: ready(url), what=f"the replica at {url} ready")
        yield pair
    finally:
        pair.stop()
        assert stop_mock_servers(live) == 0


async def test_two_replicas_place_modify_and_cancel_concurrently_on_one_database(replicas: Replicas) -> None:
    one, two = replicas.urls
    async with (
        client(one) as algo_1,
        client(two) as algo_2,
        client(one, "risk_manager") as risk_1,
        client(two, "risk_manager") as risk_2,
        client(two, "user_interface") as ui,
    ):
        placed = await asyncio.gather(
            *(
                (algo_1 if n % 2 else algo_2).post(
                    "/orders", json=LIMIT_ORDER, headers={"idempotency-key": f"two-{n:04d}-k"}
                )
                for n in range(40)
            )
        )
        orders = [p.json() for p in placed]
        assert all(p.status_code == 201 for p in placed)
        ids = [o["order_id"] for o in orders]
        assert len(set(ids)) == 40
        # every order changed on one replica and cancelled on the other, all at once
        changes = await asyncio.gather(
            *((algo_2 if n % 2 else algo_1).patch(f"/orders/{i}", json={"quantity": 11 + n}) for n, i in enumerate(ids))
        )
        assert all(c.status_code == 200 for c in changes)
        cancels = await asyncio.gather(
            *((risk_1 if n % 2 else risk_2).delete(f"/orders/{i}") for n, i in enumerate(ids[:20]))
        )
        assert all(c.status_code == 200 for c in cancels)
        again = await asyncio.gather(*(risk_1.delete(f"/orders/{i}") for i in ids[:20]))
        assert {c.status_code for c in again} == {409}  # cancelled once, never twice
        listed = (await ui.get("/orders", params={"limit": 100})).json()["items"]
    by_id = {o["order_id"]: o for o in listed}
    assert set(by_id) == set(ids)
    for n, order_id in enumerate(ids):
        assert by_id[order_id]["quantity"] == 11 + n  # each change reached the order it named, only
        assert by_id[order_id]["status"] == ("CANCELLED" if n < 20 else "OPEN")


async def test_entries_claimed_by_a_killed_replica_are_delivered_once_by_the_other(replicas: Replicas) -> None:
    strategy = replicas.live.service("strategy-service")
    one, _ = replicas.urls
    survivor = replicas.processes[1]
    async with client(one) as algo:
        await algo.post("/orders", json=LIMIT_ORDER)  # warm up replica one's discovery
        await asyncio.to_thread(strategy.fault, kind="latency", delay_ms=3000, operation_id="syncStrategyPnl")
        survivor.send_signal(signal.SIGSTOP)  # only replica one's relay may claim, for now
        try:
            answers = [
                await algo.post(
                    "/orders", json=market_order(strategy_id=42), headers={"idempotency-key": f"claim-{n}-key"}
                )
                for n in range(3)
            ]
            assert [a.status_code for a in answers] == [201] * 3
            filled = [a.json() for a in answers]

            async def in_flight() -> bool:  # one's relay claimed the head and waits on the slow owner
                return bool(await asyncio.to_thread(strategy.journal, operation_id="syncStrategyPnl"))

            await eventually(in_flight, timeout=20, what="replica one delivering to the slow owner")
            replicas.processes[0].kill()  # SIGKILL: its claims die with its database connections
            replicas.processes[0].wait()
        finally:
            survivor.send_signal(signal.SIGCONT)
    await asyncio.to_thread(strategy.clear_faults)

    async def delivered() -> bool:
        journal = await asyncio.to_thread(strategy.journal, operation_id="syncStrategyPnl")
        keys = {e["headers"]["idempotency-key"] for e in journal if e["status"] == 200}
        return len(keys) == 3

    await eventually(delivered, timeout=30, what="replica two delivering what replica one had claimed")
    journal = await asyncio.to_thread(strategy.journal, operation_id="syncStrategyPnl")
    first_key = f"sync-pnl-{filled[0]['order_id']}-10"
    tries = [e for e in journal if e["headers"]["idempotency-key"] == first_key]
    assert len(tries) >= 2  # the killed replica's delivery, then the survivor's
    for order in filled:
        await asyncio.to_thread(strategy.assert_applied_once, f"sync-pnl-{order['order_id']}-10")


async def test_the_outage_exercise_stop_a_mock_place_orders_start_it_see_the_writes_replayed(stack: Stack) -> None:
    strategy = stack.live.service("strategy-service")
    async with client(stack.url) as algo:
        warm = await algo.post("/orders", json=LIMIT_ORDER | {"strategy_id": 42})  # the validation is remembered
        assert warm.status_code == 201
        await asyncio.to_thread(stack.live.stop_child, "strategy-service")
        placed = []
        for n in range(3):
            answer = await algo.post(
                "/orders", json=market_order(strategy_id=42), headers={"idempotency-key": f"out-{n}-key"}
            )
            assert answer.status_code == 201, answer.text  # validated from the last answer, P&L kept
            placed.append(answer.json())
    async with httpx.AsyncClient() as plain:
        outbox = (await plain.get(f"{stack.url}/health/ready")).json()["checks"]["outbox"]
    assert outbox["counts"]["strategy-service"]["pending"] == 3
    async with httpx.AsyncClient() as plain:
        listed = (await plain.get(f"{stack.url}/health/outbox", params={"state": "pending"})).json()["entries"]
    assert [e["order_id"] for e in listed] == [o["order_id"] for o in placed]  # each entry, oldest first
    assert {(e["service"], e["operation"]) for e in listed} == {("strategy-service", "syncStrategyPnl")}
    await asyncio.to_thread(stack.live.start_child, "strategy-service")

    async def replayed() -> bool:
        try:
            journal = await asyncio.to_thread(strategy.journal, operation_id="syncStrategyPnl")
        except Exception:
            return False
        return sum(1 for e in journal if e["status"] == 200) == 3

    await eventually(replayed, what="the kept P&L syncs replayed to the strategy mock once it is back")
    for order in placed:
        await asyncio.to_thread(strategy.assert_applied_once, f"sync-pnl-{order['order_id']}-10")
