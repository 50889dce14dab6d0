"""`mocks up --require-service-tokens`: the owners want a token; the reference order service fetches and sends one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from suites.e2e.replicas import PINNED, client
from suites.fixtures import environment
from suites.fixtures.orders import market_order
from suites.fixtures.postgres import server_binaries

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.postgres]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[LiveMocks, str]]:
    environment.binary("redis-server")
    server_binaries()
    port = free_port()
    live = start_mock_servers(
        tmp_path / "stack.log",
        extra=(
            *("--redis-port", str(free_port()), "--postgres-port", str(free_port())),
            *("--order-service-port", str(port), "--require-service-tokens"),
        ),
        env={"ORDER_SERVICE_TEST_CLOCK_START": PINNED, "ORDER_SERVICE_OUTBOX_RELAY_INTERVAL": "0.2"},
    )
    try:
        yield live, f"http://127.0.0.1:{port}"
    finally:
        assert stop_mock_servers(live) == 0


async def test_an_order_under_a_strategy_is_validated_and_synced_with_a_service_token(
    stack: tuple[LiveMocks, str],
) -> None:
    live, url = stack
    async with httpx.AsyncClient(timeout=5) as plain:
        refused = await plain.get(live.url("strategy-service") + "/strategies/42/validate")
        assert refused.status_code == 401  # the owner wants a token
        assert "invalid_token" in refused.headers["www-authenticate"]
        async with client(url) as algo:
            placed = await algo.post("/orders", json=market_order(strategy_id=42))
        assert placed.status_code == 201, placed.text  # validated by the strategy service, with a token
        state = (await plain.get(live.admin("auth-service") + "/state")).json()
    assert state["issued"] == 1
    strategy = live.service("strategy-service")
    # this test's own call without a token, then the order service's with one
    assert [e["status"] for e in strategy.journal(operation_id="validateStrategy")] == [401, 200]
