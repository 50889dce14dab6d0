"""Load balancing over three live instances of the strategy mock: shares, outliers ejected and brought back, refresh.

Every instance and the config service are real `python -m mocks serve` processes; the
clients are the order service's own (`ClientHub`), finding the instances through discovery.
An instance is killed (SIGKILL), slowed (a latency fault) or made to answer 503; the calls
and the writes go on, each write applied exactly once across the instances.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from order_service.clients import ClientHub
from order_service.clients.models import PnlSnapshot, PnlSync
from order_service.fallbacks.outbox import Deferred
from order_service.settings import LoadBalancingSettings, RetrySettings, Settings
from suites.e2e.fleet import STRATEGY, Fleet, running_fleet

pytestmark = [pytest.mark.anyio, pytest.mark.live]
AS_OF = datetime.fromisoformat("2026-11-26T15:30:00+05:30")


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with running_fleet() as running:
        yield running


@pytest.fixture
async def hub(fleet: Fleet) -> AsyncIterator[ClientHub]:
    settings = Settings(
        config_service_url=fleet.config,
        retry=RetrySettings(max_attempts=3, backoff_base=0.0, backoff_max=0.0),
        load_balancing=LoadBalancingSettings(
            consecutive_failures=2, slow_seconds=0.25, ejection_seconds=1.0, max_ejection_seconds=4.0
        ),
    )
    clients = ClientHub(settings)
    yield clients
    await clients.aclose()


def pnl(n: int) -> PnlSync:
    return PnlSync(
        as_of=AS_OF + timedelta(seconds=n),
        realized_pnl=Decimal(n),
        unrealized_pnl=Decimal(0),
        total_pnl=Decimal(n),
        open_positions=1,
    )


async def validations(hub: ClientHub, count: int) -> None:
    for _ in range(count):
        assert await hub.strategy.validate_strategy(42)


async def test_calls_are_spread_evenly_and_by_weight(fleet: Fleet, hub: ClientHub) -> None:
    await validations(hub, 300)
    assert fleet.calls("validateStrategy") == [100, 100, 100]
    weighted = [{"base_url": url, "weight": w} for url, w in zip(fleet.urls, (1, 1, 2), strict=True)]
    httpx.post(f"{fleet.config}/__admin/seed", json={"services": {STRATEGY: weighted}}).raise_for_status()
    hub.discovery.invalidate(STRATEGY)  # as a TTL's end would
    fleet.clear()
    await validations(hub, 400)
    assert fleet.calls("validateStrategy") == [100, 100, 200]


@pytest.mark.parametrize("failure", ["killed", "503", "slow"])
async def test_a_failing_instance_is_ejected_and_every_write_applied_once(
    fleet: Fleet, hub: ClientHub, failure: str
) -> None:
    await validations(hub, 3)  # every instance known and in service
    bad = fleet.handles().service("strategy-1")
    if failure == "killed":
        fleet.processes[1].kill()
        fleet.processes[1].wait()
    elif failure == "503":
        bad.fault(kind="status", status=503)
    else:
        bad.fault(kind="latency", delay_ms=400)
    fleet.clear()
    results = [await hub.strategy.sync_strategy_pnl(42, pnl(n)) for n in range(60)]
    await validations(hub, 60)

    assert all(isinstance(r, PnlSnapshot) for r in results), [r for r in results if isinstance(r, Deferred)]
    applied: Counter[str] = Counter()
    for n in (0, 1, 2):
        if failure == "killed" and n == 1:
            continue
        for entry in fleet.journal(n, "syncStrategyPnl"):
            if entry["status"] == 200 and not entry["replayed"]:
                applied[str(entry["headers"]["idempotency-key"])] += 1
    assert len(applied) == 60  # no write lost
    assert set(applied.values()) == {1}  # and none applied twice
    state = {i["url"]: i["state"] for i in hub.balancers.snapshot()[STRATEGY]}
    assert state[fleet.urls[1]] == "ejected"
    if failure != "killed":
        # ejected after its failures in a row: at most those reached it (the slow one still applied them)
        assert len(fleet.journal(1, "validateStrategy")) == 0
        assert len(fleet.journal(1, "syncStrategyPnl")) <= 2
    healthy = fleet.calls("validateStrategy")
    assert healthy[0] + healthy[2] == 60
    assert abs(healthy[0] - healthy[2]) <= 2


async def test_an_ejected_instance_is_probed_and_brought_back(fleet: Fleet, hub: ClientHub) -> None:
    await validations(hub, 3)
    bad = fleet.handles().service("strategy-1")
    fault = bad.fault(kind="status", status=503)
    await validations(hub, 30)
    assert {i["url"]: i["state"] for i in hub.balancers.snapshot()[STRATEGY]}[fleet.urls[1]] == "ejected"
    httpx.delete(f"{fleet.urls[1]}/__admin/faults/{fault}").raise_for_status()
    await asyncio.sleep(1.1)  # the first ejection lasts a second
    fleet.clear()
    await validations(hub, 90)
    assert fleet.calls("validateStrategy") == [30, 30, 30]  # back in the rotation after its probe
    assert (
        hub.metrics.registry.get_sample_value(
            "service_client_lb_ejections_total", {"service": STRATEGY, "instance": fleet.urls[1]}
        )
        == 1
    )


async def test_discovery_refreshes_the_set_when_its_answer_expires(fleet: Fleet, hub: ClientHub) -> None:
    seed = {"ttl_seconds": 1, "services": {STRATEGY: fleet.urls}}
    httpx.post(f"{fleet.config}/__admin/seed", json=seed).raise_for_status()
    hub.discovery.invalidate(STRATEGY)
    await validations(hub, 3)
    httpx.post(f"{fleet.config}/__admin/seed", json={"services": {STRATEGY: fleet.urls[:2]}}).raise_for_status()
    await asyncio.sleep(1.1)  # the cached answer expires; the next call asks again
    fleet.clear()
    await validations(hub, 40)
    assert fleet.calls("validateStrategy") == [20, 20, 0]
    assert [i["url"] for i in hub.balancers.snapshot()[STRATEGY]] == fleet.urls[:2]
