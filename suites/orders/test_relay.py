"""The outbox relay: delivered once, refused kept as dead letters, outages retried with backoff, logged once."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from order_service.fallbacks.outbox import Delivery, OutboxItem
from order_service.orders.relay import FollowUpRelay
from order_service.orders.store import MemoryOrderStore, OrderStore
from suites.orders.conftest import Clock, market
from suites.orders.test_store import PREFIX, pnl_follow_up

pytestmark = pytest.mark.anyio


class Owner:
    """A strategy service as the relay sees it: answers as told, remembers what it applied (by key)."""

    def __init__(self) -> None:
        self.answer: Delivery = "delivered"
        self.applied: dict[str, int] = {}
        self.calls = 0

    async def deliver(self, item: OutboxItem) -> tuple[Delivery, str]:
        self.calls += 1
        if self.answer == "delivered":
            self.applied[item.idempotency_key or ""] = self.applied.get(item.idempotency_key or "", 0) + 1
            return "delivered", ""
        return self.answer, "answered 503" if self.answer == "unavailable" else "refused: 409 stale snapshot"


def gauge(registry: CollectorRegistry, state: str) -> float | None:
    return registry.get_sample_value("order_service_outbox_entries", {"service": "strategy-service", "state": state})


async def test_each_follow_up_reaches_its_owner_once_and_the_gauge_drops_to_zero(store: OrderStore) -> None:
    owner, registry = Owner(), CollectorRegistry()
    relay = FollowUpRelay(store, {"strategy-service": owner.deliver}, registry=registry)
    placed = [(await store.place(market(strategy_id=s), PREFIX, None, pnl_follow_up)).body for s in (1, 1, 2)]
    await relay.refresh_gauges()
    assert gauge(registry, "pending") == 3
    while await relay.deliver_due():
        pass
    await relay.refresh_gauges()
    assert owner.applied == {f"sync-{o['order_id']}": 1 for o in placed}
    assert (gauge(registry, "pending"), gauge(registry, "dead")) == (0, 0)  # accurate after a drain
    assert await relay.deliver_due() == 0


async def test_a_refused_write_is_a_dead_letter_kept_with_its_reason(
    store: OrderStore, caplog: pytest.LogCaptureFixture
) -> None:
    owner = Owner()
    owner.answer = "rejected"
    relay = FollowUpRelay(store, {"strategy-service": owner.deliver})
    placed = (await store.place(market(strategy_id=1), PREFIX, None, pnl_follow_up)).body
    assert await relay.deliver_due() == 1
    assert await store.outbox_counts() == {"strategy-service": {"pending": 0, "dead": 1}}
    assert await relay.deliver_due() == 0  # never tried again
    (line,) = [r.getMessage() for r in caplog.records if "OUTBOX_DEAD_LETTER" in r.getMessage()]
    assert placed["order_id"] in line
    assert "409 stale" in line


async def later(store: OrderStore, clock: Clock, seconds: float) -> None:
    """Let `seconds` pass for the store: the memory store's clock is moved, PostgreSQL's is waited for."""
    if isinstance(store, MemoryOrderStore):
        clock.now += seconds
    else:
        await asyncio.sleep(seconds)


async def test_an_outage_is_retried_with_backoff_and_logged_once(
    store: OrderStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    owner = Owner()
    owner.answer = "unavailable"
    relay = FollowUpRelay(store, {"strategy-service": owner.deliver}, backoff_base=0.05, backoff_max=0.05)
    await store.place(market(strategy_id=1), PREFIX, None, pnl_follow_up)
    assert await relay.deliver_due() == 1
    assert await relay.deliver_due() == 0  # backing off: not due yet
    for _ in range(3):
        await later(store, clock, 0.06)
        await relay.deliver_due()
    owner.answer = "delivered"
    await later(store, clock, 0.06)
    await relay.deliver_due()
    assert owner.calls == 5
    assert sum(owner.applied.values()) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("OUTBOX_DELIVERY_PAUSED" in m for m in messages) == 1  # a state change, not a line per round
    assert sum("OUTBOX_DELIVERY_RESUMED" in m for m in messages) == 1


def test_the_backoff_doubles_up_to_its_cap() -> None:
    relay = FollowUpRelay(None, {}, backoff_base=0.5, backoff_max=60)  # type: ignore[arg-type]
    assert [relay.backoff(n) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]


async def test_run_delivers_soon_after_a_wake_and_stops(store: OrderStore) -> None:
    owner = Owner()
    relay = FollowUpRelay(store, {"strategy-service": owner.deliver})
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(30.0, stop=stop))  # a long interval: only the wake can deliver
    await asyncio.sleep(0.05)
    await store.place(market(strategy_id=1), PREFIX, None, pnl_follow_up)
    relay.wake()
    for _ in range(100):
        if owner.applied:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 2)
    assert len(owner.applied) == 1


async def test_the_relay_reports_a_store_outage_once(caplog: pytest.LogCaptureFixture) -> None:
    from order_service.orders.postgres import PostgresOrderStore

    away = PostgresOrderStore("postgresql://postgres@127.0.0.1:9/none")  # never opened: every call is refused
    relay = FollowUpRelay(away, {"strategy-service": Owner().deliver})
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(0.01, stop=stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(running, 2)
    with caplog.at_level(logging.ERROR):
        lines = [r for r in caplog.records if "OUTBOX_STORE_UNAVAILABLE" in r.getMessage()]
    assert len(lines) == 1
    assert not any(r.exc_info for r in caplog.records)


async def test_a_backlog_of_one_partition_drains_without_waiting_a_round_per_entry(store: OrderStore) -> None:
    """Found by the crash tier: after an outage, 344 syncs of one strategy drained at one a second."""
    owner = Owner()
    relay = FollowUpRelay(store, {"strategy-service": owner.deliver})
    for _ in range(5):
        await store.place(market(strategy_id=1), PREFIX, None, pnl_follow_up)
    stop = asyncio.Event()
    running = asyncio.ensure_future(relay.run(30.0, stop=stop))  # rounds 30 s apart, unless more are due
    try:
        for _ in range(100):
            if len(owner.applied) == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    assert sorted(owner.applied.values()) == [1] * 5
