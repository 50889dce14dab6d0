"""The clients against real uvicorn mocks, found through the config-service mock."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest

from harness.servers import LiveMocks
from order_service.clients import ClientHub, _get_service_port
from order_service.clients.models import PnlSync
from order_service.errors import ServiceTimeoutError
from order_service.fallbacks.outbox import Deferred
from order_service.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.live]


def live_settings(live: LiveMocks, **overrides: object) -> Settings:
    return Settings.model_validate({"config_service_url": live.url("config-service"), "fallback_urls": {}, **overrides})


async def test_discovery_and_every_client_over_real_sockets(live_mocks: LiveMocks) -> None:
    hub = ClientHub(live_settings(live_mocks))
    try:
        port = await _get_service_port("strategy-service", hub.discovery)
        assert live_mocks.url("strategy-service").endswith(f":{port}")
        assert await hub.strategy.validate_strategy(42) is True
        snapshot = await hub.strategy.sync_strategy_pnl(
            42,
            PnlSync(
                as_of=datetime.fromisoformat("2026-11-26T15:30:00+05:30"),
                realized_pnl=Decimal("1.25"),
                unrealized_pnl=Decimal(0),
                total_pnl=Decimal("1.25"),
            ),
        )
        assert not isinstance(snapshot, Deferred)
        assert (await hub.account.get_tier_summary()).total == 31
        day = {"day_pnl": Decimal(5), "realized_pnl": Decimal(5), "unrealized_pnl": Decimal(0)}
        await hub.analytics.calculate_and_store_pnl_metrics(42, date(2026, 11, 26), day)
        assert await hub.analytics.get_previous_cumulative_pnl(42, date(2026, 11, 27)) == Decimal(5)
    finally:
        await hub.aclose()


async def test_a_real_dropped_connection_is_kept_and_replayed(live_mocks: LiveMocks) -> None:
    hub = ClientHub(live_settings(live_mocks, retry={"max_attempts": 1}))
    try:
        async with httpx.AsyncClient(base_url=live_mocks.admin("account-service")) as admin:
            await admin.post("/faults", json={"kind": "drop", "operation_id": "promoteAccountTier"})
            kept = await hub.account.promote_account_to_hot_tier("ZX1234", 20)
            assert isinstance(kept, Deferred)
            await admin.delete("/faults")
            assert await hub.relay.drain("account-service") == 1
            state = (await admin.get("/state")).json()
        zx = next(a for a in state["accounts"] if a["account_id"] == "ZX1234")
        assert zx["tier"] == "hot"
    finally:
        await hub.aclose()


async def test_a_real_hang_is_cut_by_the_read_timeout(live_mocks: LiveMocks) -> None:
    hub = ClientHub(live_settings(live_mocks, http={"read_timeout": 0.3}, retry={"max_attempts": 1}))
    try:
        async with httpx.AsyncClient(base_url=live_mocks.admin("analytics-service")) as admin:
            await admin.post("/faults", json={"kind": "hang", "hang_seconds": 10, "operation_id": "getPnlDrawdown"})
        with pytest.raises(ServiceTimeoutError):
            await hub.analytics.get_pnl_drawdown(42)
    finally:
        await hub.aclose()
