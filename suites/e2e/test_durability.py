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
from order_service.security.dev import dev_signer, dev_user_token
from suites.fixtures import environment
from suites.fixtures.orders import LIMIT_ORDER, market_order

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.postgres]
PINNED = "2026-11-26T11:00:00+05:30"  # a trading Thursday: no off-hours finding


class Stack:
    def __init__(self, live: LiveMocks, port: int) -> None:
        self.live = live
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def order_service_pids(self) -> list[int]:
        """The pids of the order service `up` runs on this stack's port (read from /proc)."""
        wanted = ["order_service", "serve", "--port", str(self.port)]
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if all(part in argv for part in wanted):
                pids.append(int(entry.name))
        return pids

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
    environment.binary("initdb", tier="postgres")
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


def client(url: str, identity: str = "algo_engine", timeout: float = 10.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        auth=dev_signer(identity),
        timeout=timeout,
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    )


async def eventually(check: Any, timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} never held"
        await asyncio.sleep(0.1)


async def ready(url: str) -> bool:
    async with httpx.AsyncClient() as plain:
        try:
            return (await plain.get(f"{url}/health/ready")).status_code == 200
        except httpx.TransportError:
            return False


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
