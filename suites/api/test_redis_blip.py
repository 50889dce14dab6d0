"""A Redis blip after the checks and before the answer: the order stands, and its key names it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from harness.processes import stop_process
from harness.servers import free_port
from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.services.order_anomaly_detector import OrderAnomalyDetector
from order_service.settings import Settings
from suites.fixtures import environment
from suites.fixtures.orders import LIMIT_ORDER, as_served, market_order
from suites.fixtures.redis import start_redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


class Blinking:
    """A redis-server of this test's own that can be stopped and started again on its port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process = start_redis_server(binary, self.port)

    def stop(self) -> None:
        stop_process(self.process, timeout=5)

    def start(self) -> None:
        self.process = start_redis_server(self.binary, self.port)


@pytest.fixture
def blinking() -> Iterator[Blinking]:
    server = Blinking(environment.binary("redis-server"))
    try:
        yield server
    finally:
        server.stop()


async def test_an_order_placed_just_before_redis_went_away_is_the_answer_for_its_key(
    blinking: Blinking, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = OrderAnomalyDetector.check_order
    blips: list[bool] = []

    async def check_then_blip(self: OrderAnomalyDetector, *args: Any, **kwargs: Any) -> Any:
        verdict = await original(self, *args, **kwargs)
        if not blips:  # the first order only: Redis goes away once its checks are done
            blips.append(True)
            blinking.stop()
        return verdict

    monkeypatch.setattr(OrderAnomalyDetector, "check_order", check_then_blip)
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{blinking.port}/0", socket_timeout=1)
    app = await as_served(create_app(Settings(security=dev_security_settings()), redis=client))
    order = market_order()
    key = {"idempotency-key": "blip-key-0001"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://order.test",
        auth=dev_signer("algo_engine"),
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    ) as algo:
        placed = await algo.post("/orders", json=order, headers=key)
        assert placed.status_code == 201, placed.text  # filled and committed: never "orders are refused"
        assert placed.json()["status"] == "COMPLETE"
        while_down = await algo.post("/orders", json=order, headers=key)
        assert while_down.status_code == 503  # the limits cannot be checked: refused, nothing placed
        blinking.start()
        again = await algo.post("/orders", json=order, headers=key)
    await client.aclose()
    assert again.status_code == 201  # not 409 "still in progress" for a day
    assert again.json() == placed.json()


async def test_a_cancellation_stands_when_its_anomaly_count_fails(
    blinking: Blinking, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def redis_went_away(self: OrderAnomalyDetector, *args: Any, **kwargs: Any) -> Any:
        raise aioredis.ConnectionError("Redis went away after the cancel was committed")

    monkeypatch.setattr(OrderAnomalyDetector, "check_cancellation", redis_went_away)
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{blinking.port}/0", socket_timeout=1)
    app = await as_served(create_app(Settings(security=dev_security_settings()), redis=client))
    headers = {"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"}
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://o.test", auth=dev_signer("algo_engine")) as algo,
        httpx.AsyncClient(transport=transport, base_url="http://o.test", auth=dev_signer("user_interface")) as ui,
    ):
        placed = (await algo.post("/orders", json=LIMIT_ORDER, headers=headers)).json()
        cancelled = await algo.delete(f"/orders/{placed['order_id']}", headers=headers)
        read = await ui.get(f"/orders/{placed['order_id']}", headers=headers)
    await client.aclose()
    assert cancelled.status_code == 200  # not a 503 for a cancel that happened
    assert read.json()["status"] == "CANCELLED"
    assert any("ANOMALY_CANCELLATION_UNCOUNTED" in r.getMessage() for r in caplog.records)
