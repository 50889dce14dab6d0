"""Automatic suspension across two real replicas on one PostgreSQL and one Redis, through a Redis restart.

Policy: 3 CRITICAL anomalies (a quantity four times the limit) within 600 s suspend the
account until lifted. Anomalies counted on both replicas add up; the suspension binds both
at once, survives Redis losing its data, leaves `/health/ready` alone, and is lifted by
risk_manager only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process
from harness.servers import free_port, start_mock_servers, stop_mock_servers
from order_service.security.dev import dev_signer
from suites.e2e.replicas import Replicas, client, eventually, ready
from suites.fixtures import environment
from suites.fixtures.orders import LIMIT_ORDER
from suites.fixtures.redis import start_redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.postgres]
CRITICAL = {**LIMIT_ORDER, "quantity": 200_000, "price": "1"}  # LARGE_ORDER_SIZE, 4x the 50,000 limit
POLICY = {
    "ORDER_SERVICE_SUSPENSION__CRITICAL_LIMIT": "3",
    "ORDER_SERVICE_SUSPENSION__WINDOW_SECONDS": "600",
    "ORDER_SERVICE_SUSPENSION__DURATION_SECONDS": "null",
}


class OwnRedis:
    """A redis-server of the replicas' own, stopped and started again on its port (its data lost)."""

    def __init__(self) -> None:
        self.binary = environment.binary("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = start_redis_server(self.binary, self.port)

    def restart(self) -> None:
        stop_process(self.process, timeout=5)
        self.process = start_redis_server(self.binary, self.port)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    try:
        yield server
    finally:
        stop_process(server.process, timeout=5)


@pytest.fixture
async def pair(tmp_path: Path, database_url: str, own_redis: OwnRedis) -> AsyncIterator[Replicas]:
    live = start_mock_servers(tmp_path / "mocks.log", extra=("--redis-port", str(free_port()), "--no-order-service"))
    replicas = Replicas(live, database_url, tmp_path, redis_url=own_redis.url, env=POLICY)
    try:
        replicas.start()
        for url in replicas.urls:
            await eventually(lambda url=url: ready(url), what=f"the replica at {url} ready")
        yield replicas
    finally:
        replicas.stop()
        assert stop_mock_servers(live) == 0


def service_client(url: str, identity: str) -> httpx.AsyncClient:
    """A signed client with no user token: the suspension endpoints take none."""
    return httpx.AsyncClient(base_url=url, auth=dev_signer(identity), timeout=10)


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as plain:
        text = (await plain.get(url + "/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_criticals_on_two_replicas_suspend_the_account_on_both_until_risk_lifts_it(
    pair: Replicas, own_redis: OwnRedis
) -> None:
    one, two = pair.urls
    async with client(one) as algo_1, client(two) as algo_2:
        resting = (await algo_1.post("/orders", json=LIMIT_ORDER)).json()  # open, for the cancel later
        for api in (algo_1, algo_2):  # two CRITICALs, one on each replica: not yet
            assert (await api.post("/orders", json=CRITICAL)).status_code == 201
        assert (await algo_2.post("/orders", json=LIMIT_ORDER)).status_code == 201
        third = await algo_1.post("/orders", json=CRITICAL)  # placed (policy "log"), and the account suspended
        assert third.status_code == 201

        refused = await algo_2.post("/orders", json=LIMIT_ORDER)  # the other replica refuses at once
        assert refused.status_code == 403
        body = refused.json()
        assert body["error"] == "forbidden"
        assert body["suspension"]["trading_account_id"] == "ZX1234"
        assert body["suspension"]["critical_anomalies"] == 3
        assert body["suspension"]["suspended_until"] is None
        modify = await algo_1.patch(f"/orders/{resting['order_id']}", json={"quantity": 11})
        assert modify.status_code == 403
        for url in pair.urls:
            assert await ready(url)  # readiness is about the service, not about one account

        own_redis.restart()  # Redis loses everything: limits, windows, the replay store
        for n, api in enumerate((algo_1, algo_2)):  # each answers 503 until its Redis connections are new
            await eventually(lambda api=api: _still_suspended(api), what=f"replica {n} refusing after the restart")

        cancel = await algo_2.delete(f"/orders/{resting['order_id']}")  # a risk desk can still close what is open
        assert cancel.status_code == 200

        async with service_client(two, "algo_engine") as not_risk, service_client(one, "risk_manager") as risk:
            assert (await not_risk.get("/accounts/ZX1234/suspension")).status_code == 403
            assert (await not_risk.delete("/accounts/ZX1234/suspension")).status_code == 403
            seen = await risk.get("/accounts/ZX1234/suspension")
            assert seen.status_code == 200
            assert seen.json()["lifted_at"] is None
            lifted = await risk.delete("/accounts/ZX1234/suspension")
            assert lifted.status_code == 200
            assert lifted.json()["lifted_by"] == "risk_manager"
            assert (await risk.delete("/accounts/ZX1234/suspension")).status_code == 404
            assert (await risk.get("/accounts/ZX1234/suspension")).status_code == 404

        assert (await algo_2.post("/orders", json=LIMIT_ORDER)).status_code == 201
        assert (await algo_1.post("/orders", json=CRITICAL)).status_code == 201  # one since the lift: not three

    events = pair.audit_events()
    suspended = [e for e in events if e["event"] == "account_suspended"]
    lifts = [e for e in events if e["event"] == "suspension_lifted"]
    assert len(suspended) == 1
    assert suspended[0]["account"] == "ZX1234"
    assert suspended[0]["critical_anomalies"] == 3
    assert [(e["account"], e["identity"]) for e in lifts] == [("ZX1234", "risk_manager")]
    total = "order_service_account_suspensions_total{"
    assert sum([await metric(url, total + 'action="suspended"}') for url in pair.urls]) == 1
    assert sum([await metric(url, total + 'action="lifted"}') for url in pair.urls]) == 1


async def _still_suspended(api: httpx.AsyncClient) -> bool:
    """True once the replica answers an order with 403; False while it answers 503 (its Redis coming back)."""
    answer = await api.post("/orders", json=LIMIT_ORDER)
    assert answer.status_code in (403, 503), answer.text  # never placed: a 201 here is the suspension lost
    return answer.status_code == 403
