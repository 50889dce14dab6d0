"""The suspension policy at its boundaries, on both stores; shared and durable on PostgreSQL.

Policy here: 3 CRITICAL anomalies within 60 s suspend for 300 s (or until lifted).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from order_service.orders.postgres import PostgresOrderStore
from order_service.orders.store import OrderStore
from order_service.orders.suspensions import SuspensionPolicy
from suites.orders.conftest import AT

pytestmark = pytest.mark.anyio
POLICY = SuspensionPolicy(critical_limit=3, window=timedelta(seconds=60), duration=timedelta(seconds=300))
UNTIL_LIFTED = SuspensionPolicy(critical_limit=3, window=timedelta(seconds=60), duration=None)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


async def test_the_limit_th_anomaly_in_the_window_suspends_and_not_one_before(store: OrderStore) -> None:
    suspensions = store.suspensions()
    assert await suspensions.critical_anomaly("ZX1234", AT, "1", POLICY) is None
    assert await suspensions.critical_anomaly("ZX1234", AT + s(30), "2", POLICY) is None
    assert await suspensions.current("ZX1234", AT + s(30)) is None
    started = await suspensions.critical_anomaly("ZX1234", AT + s(59.999), None, POLICY)
    assert started is not None
    assert (started.since, started.until, started.critical_count) == (AT + s(59.999), AT + s(359.999), 3)
    assert await suspensions.current("ZX1234", AT + s(60)) == started
    assert await suspensions.current("AB1234", AT + s(60)) is None  # per account


async def test_an_anomaly_exactly_a_window_old_no_longer_counts(store: OrderStore) -> None:
    suspensions = store.suspensions()
    await suspensions.critical_anomaly("ZX1234", AT, "1", POLICY)
    await suspensions.critical_anomaly("ZX1234", AT + s(30), "2", POLICY)
    assert await suspensions.critical_anomaly("ZX1234", AT + s(60), "3", POLICY) is None  # the first is 60 s old
    assert await suspensions.critical_anomaly("ZX1234", AT + s(61), "4", POLICY) is not None  # 30, 60, 61


async def test_a_suspension_ends_at_its_end_and_forgives_what_came_before(store: OrderStore) -> None:
    suspensions = store.suspensions()
    for n in range(3):
        started = await suspensions.critical_anomaly("ZX1234", AT + s(n), str(n), POLICY)
    assert started is not None
    assert await suspensions.current("ZX1234", AT + s(2 + 299.999)) is not None
    assert await suspensions.current("ZX1234", AT + s(2 + 300)) is None
    # two more after the end: with the ones before it forgiven, that is not three
    assert await suspensions.critical_anomaly("ZX1234", AT + s(303), "a", POLICY) is None
    assert await suspensions.critical_anomaly("ZX1234", AT + s(304), "b", POLICY) is None
    again = await suspensions.critical_anomaly("ZX1234", AT + s(305), "c", POLICY)
    assert again is not None
    assert again.since == AT + s(305)


async def test_until_lifted_lasts_until_a_lift_which_forgives_the_anomalies_before_it(store: OrderStore) -> None:
    suspensions = store.suspensions()
    for n in range(3):
        await suspensions.critical_anomaly("ZX1234", AT + s(n), str(n), UNTIL_LIFTED)
    held = await suspensions.current("ZX1234", AT + timedelta(days=30))
    assert held is not None
    assert held.until is None
    # counted while suspended: no second suspension, nothing changes
    assert await suspensions.critical_anomaly("ZX1234", AT + s(10), "x", UNTIL_LIFTED) is None
    lifted = await suspensions.lift("ZX1234", AT + s(20), "risk_manager")
    assert lifted is not None
    assert (lifted.lifted_at, lifted.lifted_by) == (AT + s(20), "risk_manager")
    assert await suspensions.current("ZX1234", AT + s(20)) is None
    assert await suspensions.lift("ZX1234", AT + s(21), "risk_manager") is None  # nothing in force
    assert await suspensions.critical_anomaly("ZX1234", AT + s(22), "y", UNTIL_LIFTED) is None  # 1 since the lift


async def test_a_lift_of_an_account_never_suspended_is_none(store: OrderStore) -> None:
    assert await store.suspensions().lift("ZX1234", AT, "risk_manager") is None


@pytest.mark.postgres
async def test_two_replicas_counting_at_once_suspend_once(pg_store: PostgresOrderStore, database_url: str) -> None:
    other = await PostgresOrderStore.connect(database_url)
    try:
        replicas = [pg_store.suspensions(), other.suspensions()]
        started = await asyncio.gather(
            *(replicas[n % 2].critical_anomaly("ZX1234", AT + s(n / 100), str(n), POLICY) for n in range(20))
        )
        assert len([x for x in started if x is not None]) == 1
        seen_by_other = await replicas[1].current("ZX1234", AT + s(1))
        assert seen_by_other is not None
        assert seen_by_other.critical_count >= 3
    finally:
        await other.close()


@pytest.mark.postgres
async def test_a_suspension_outlives_the_process_that_made_it(database_url: str) -> None:
    first = await PostgresOrderStore.connect(database_url)
    for n in range(3):
        await first.suspensions().critical_anomaly("ZX1234", AT + s(n), str(n), UNTIL_LIFTED)
    await first.close()
    restarted = await PostgresOrderStore.connect(database_url)
    try:
        held = await restarted.suspensions().current("ZX1234", AT + s(1000))
        assert held is not None
        assert held.critical_count == 3
    finally:
        await restarted.close()
