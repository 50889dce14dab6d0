"""Fallbacks under the mocks' fault injection: retries, breakers, stale reads, discovery, the outbox."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks
from order_service.clients import ClientHub
from order_service.clients.models import PnlSync
from order_service.errors import CircuitOpenError, ServiceTimeoutError, ServiceUnavailableError
from order_service.fallbacks.outbox import Deferred
from suites.fixtures.clients import FakeTime, build_hub, hub_settings

pytestmark = pytest.mark.anyio


async def admin(mocks: InProcessMocks, service: str, method: str, path: str, **kwargs: Any) -> Any:
    async with mocks.client(service) as client:
        response = await client.request(method, "/__admin" + path, **kwargs)
        response.raise_for_status()
        return response.json()


async def fault(mocks: InProcessMocks, service: str, **spec: Any) -> None:
    await admin(mocks, service, "POST", "/faults", json=spec)


async def journal(mocks: InProcessMocks, service: str, **params: Any) -> list[dict[str, Any]]:
    return list((await admin(mocks, service, "GET", "/journal", params=params))["entries"])


def fallbacks(hub: ClientHub, service: str, operation: str, kind: str) -> float | None:
    """The fallback counter as the registry exposes it (None when never counted)."""
    labels = {"service": service, "operation": operation, "kind": kind}
    return hub.metrics.registry.get_sample_value("service_client_fallback_total", labels)


async def test_503_is_retried_until_the_owner_answers(mocks: InProcessMocks, hub: ClientHub) -> None:
    await fault(mocks, "strategy-service", kind="status", status=503, times=2)
    assert await hub.strategy.validate_strategy(42) is True
    statuses = [e["status"] for e in await journal(mocks, "strategy-service", operation_id="validateStrategy")]
    assert statuses == [503, 503, 200]


async def test_429_retry_after_is_waited_for(mocks: InProcessMocks, hub: ClientHub, fake_time: FakeTime) -> None:
    await fault(mocks, "account-service", kind="status", status=429, retry_after=3, times=1)
    summary = await hub.account.get_tier_summary()
    assert summary.total == 31
    assert fake_time.sleeps == [3.0]


async def test_a_dropped_connection_is_retried_for_reads(mocks: InProcessMocks, hub: ClientHub) -> None:
    await fault(mocks, "analytics-service", kind="drop", times=1)
    assert await hub.analytics.get_previous_cumulative_pnl(42, date(2026, 11, 26)) == Decimal(0)
    assert len(await journal(mocks, "analytics-service", operation_id="getPreviousCumulativePnl")) == 2


async def test_a_hang_is_cut_by_the_read_timeout(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    settings = hub_settings(http={"read_timeout": 0.2}, retry={"max_attempts": 1})
    hub = build_hub(mocks, fake_time, settings)
    await fault(mocks, "strategy-service", kind="hang", hang_seconds=30)
    try:
        with pytest.raises(ServiceTimeoutError):
            await hub.strategy.get_strategy_portfolio(42)
    finally:
        await hub.aclose()


async def test_breaker_opens_short_circuits_half_opens_and_closes(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    settings = hub_settings(retry={"max_attempts": 1}, breaker={"failure_threshold": 3, "reset_timeout": 30})
    hub = build_hub(mocks, fake_time, settings)
    try:
        await fault(mocks, "strategy-service", kind="status", status=503)
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                await hub.strategy.get_default_strategy("ZX1234")
        calls_when_opened = len(await journal(mocks, "strategy-service"))
        for _ in range(5):
            with pytest.raises(CircuitOpenError):
                await hub.strategy.get_default_strategy("ZX1234")
        assert len(await journal(mocks, "strategy-service")) == calls_when_opened  # no call went out
        assert hub.breakers.snapshot()["strategy-service"]["state"] == "open"

        await admin(mocks, "strategy-service", "DELETE", "/faults")
        fake_time.now += 30
        assert hub.breakers.snapshot()["strategy-service"]["state"] == "half_open"
        assert (await hub.strategy.get_default_strategy("ZX1234")).strategy_id == 7
        assert hub.breakers.snapshot()["strategy-service"] == {
            "state": "closed",
            "consecutive_failures": 0,
            "opened_at": None,
        }
    finally:
        await hub.aclose()


async def test_a_read_serves_the_last_known_answer_marked_stale(mocks: InProcessMocks, hub: ClientHub) -> None:
    fresh = await hub.strategy.get_strategy_portfolio(42)
    await fault(mocks, "strategy-service", kind="status", status=503)
    served = await hub.strategy.get_strategy_portfolio(42)
    assert not fresh.is_stale
    assert served.is_stale
    assert served.stale_since is not None
    assert served.model_dump() == fresh.model_dump()  # the same data, flagged
    assert fallbacks(hub, "strategy-service", "getStrategyPortfolio", "stale_read") == 1
    with pytest.raises(ServiceUnavailableError):  # nothing known for another strategy
        await hub.strategy.get_strategy_portfolio(43)


async def test_a_stale_answer_expires(mocks: InProcessMocks, hub: ClientHub, fake_time: FakeTime) -> None:
    await hub.account.get_account_holdings("ZX1234")
    await fault(mocks, "account-service", kind="status", status=503)
    fake_time.now += hub.settings.stale_max_age + 1
    with pytest.raises(ServiceUnavailableError):
        await hub.account.get_account_holdings("ZX1234")


async def test_discovery_is_cached_not_asked_per_request(mocks: InProcessMocks, hub: ClientHub) -> None:
    for _ in range(25):
        await hub.strategy.validate_strategy(42)
    lookups = await journal(mocks, "config-service", operation_id="getServiceEndpoint")
    assert len(lookups) == 1


async def test_discovery_asks_again_when_the_ttl_runs_out(
    mocks: InProcessMocks, hub: ClientHub, fake_time: FakeTime
) -> None:
    await hub.strategy.validate_strategy(42)
    fake_time.now += 31  # the mock's ttl_seconds is 30
    await hub.strategy.validate_strategy(42)
    assert len(await journal(mocks, "config-service", operation_id="getServiceEndpoint")) == 2


async def test_discovery_failure_uses_the_settings_address(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    settings = hub_settings(retry={"max_attempts": 1})
    hub = build_hub(mocks, fake_time, settings)
    try:
        await fault(mocks, "config-service", kind="status", status=503)
        assert await hub.strategy.validate_strategy(42) is True  # reached through the settings fallback
        assert fallbacks(hub, "strategy-service", "discovery", "discovery") == 1
    finally:
        await hub.aclose()


async def test_without_a_settings_fallback_discovery_failure_is_unavailable(
    mocks: InProcessMocks, fake_time: FakeTime
) -> None:
    hub = build_hub(mocks, fake_time, hub_settings(fallback_urls={}, retry={"max_attempts": 1}))
    try:
        await fault(mocks, "config-service", kind="status", status=503)
        with pytest.raises(ServiceUnavailableError, match="no fallback address"):
            await hub.strategy.validate_strategy(42)
    finally:
        await hub.aclose()


async def test_a_moved_service_is_resolved_again_after_a_connection_failure(
    mocks: InProcessMocks, hub: ClientHub
) -> None:
    await admin(
        mocks, "config-service", "POST", "/seed", json={"services": {"strategy-service": "http://gone.example.test"}}
    )
    with pytest.raises(ServiceUnavailableError):
        await hub.strategy.validate_strategy(42)  # resolved to the dead address; every try fails
    # each connection failure invalidated the entry, so every try asked discovery again
    lookups = await journal(mocks, "config-service", operation_id="getServiceEndpoint")
    assert len(lookups) == hub.settings.retry.max_attempts
    await admin(mocks, "config-service", "POST", "/reset")  # the registry points to the mock again
    assert await hub.strategy.validate_strategy(42) is True
    assert len(await journal(mocks, "config-service", operation_id="getServiceEndpoint")) == 1


def pnl(minute: int, total: str) -> PnlSync:
    return PnlSync(
        as_of=datetime.fromisoformat(f"2026-11-26T15:{minute:02d}:00+05:30"),
        realized_pnl=Decimal(total),
        unrealized_pnl=Decimal(0),
        total_pnl=Decimal(total),
    )


async def test_writes_during_an_outage_are_kept_and_replayed_in_order(
    mocks: InProcessMocks, hub: ClientHub, fake_time: FakeTime
) -> None:
    await fault(mocks, "strategy-service", kind="status", status=503, operation_id="syncStrategyPnl")
    kept = [await hub.strategy.sync_strategy_pnl(42, pnl(minute, str(minute))) for minute in (1, 2, 3)]
    assert all(isinstance(result, Deferred) for result in kept)
    await admin(mocks, "strategy-service", "DELETE", "/faults")
    fake_time.now += 60  # past the breaker's reset
    later = await hub.strategy.sync_strategy_pnl(42, pnl(4, "4"))
    assert isinstance(later, Deferred)  # older writes still wait: it queues behind them, in order
    assert await hub.relay.drain("strategy-service") == 4
    portfolio = await hub.strategy.get_strategy_portfolio(42)
    assert portfolio.pnl is not None
    assert (portfolio.pnl.total_pnl, portfolio.pnl.version) == (Decimal(4), 4)  # no 409: order was kept
    assert await hub.outbox.depth("strategy-service") == 0
    depth = hub.metrics.registry.get_sample_value("service_client_outbox_depth", {"service": "strategy-service"})
    assert depth == 0  # the gauge follows the drain (it stayed at the outage's count before)


async def test_a_write_the_owner_refuses_on_replay_is_dead_lettered_not_dropped(
    mocks: InProcessMocks, hub: ClientHub, fake_time: FakeTime
) -> None:
    await fault(mocks, "account-service", kind="status", status=503)
    kept = await hub.account.update_account_tier("QQ4040", "hot")  # an account that does not exist
    assert isinstance(kept, Deferred)
    await admin(mocks, "account-service", "DELETE", "/faults")
    fake_time.now += 60
    assert await hub.relay.drain("account-service") == 1
    dead = await hub.outbox.dead("account-service")
    assert [letter.item.id for letter in dead] == [kept.outbox_id]
    assert "404" in dead[0].reason
    assert (
        hub.metrics.registry.get_sample_value(
            "service_client_outbox_delivered_total", {"service": "account-service", "result": "rejected"}
        )
        == 1
    )


async def test_a_replay_after_a_lost_answer_is_applied_once(mocks: InProcessMocks, hub: ClientHub) -> None:
    """Every try reached the owner and was applied, but its answer was lost; the replay carries the same key."""
    await fault(mocks, "analytics-service", kind="drop_after", operation_id="calculatePnlMetrics")
    day = {"day_pnl": Decimal(10), "realized_pnl": Decimal(10), "unrealized_pnl": Decimal(0)}
    kept = await hub.analytics.calculate_and_store_pnl_metrics(42, date(2026, 11, 26), day)
    assert isinstance(kept, Deferred)  # the client saw the write fail
    tries = await journal(mocks, "analytics-service", operation_id="calculatePnlMetrics")
    assert len(tries) == hub.settings.retry.max_attempts
    assert [e["status"] for e in tries] == [201] * len(tries)  # the owner served every try (created)
    assert [e["replayed"] for e in tries] == [False] + [True] * (len(tries) - 1)  # and applied only the first

    await admin(mocks, "analytics-service", "DELETE", "/faults")
    assert await hub.relay.drain("analytics-service") == 1
    entries = await journal(mocks, "analytics-service", operation_id="calculatePnlMetrics")
    assert len({e["headers"]["idempotency-key"] for e in entries}) == 1  # every try and the replay: one key
    assert [e["replayed"] for e in entries[len(tries) :]] == [True]  # the relay got the kept answer
    metrics = await hub.analytics.get_pnl_metrics(42)
    assert [(m.version, m.day_pnl) for m in metrics.items] == [(1, Decimal(10))]  # stored once


async def test_bad_base_url_for_the_relay_keeps_items(mocks: InProcessMocks, hub: ClientHub) -> None:
    """A relay that cannot reach the owner moves nothing."""
    await fault(mocks, "strategy-service", kind="status", status=503)
    await hub.strategy.sync_strategy_pnl(42, pnl(1, "1"))
    assert await hub.relay.drain("strategy-service") == 0
    assert await hub.outbox.depth("strategy-service") == 1


async def test_a_connection_failure_without_retries_left_keeps_the_write(mocks: InProcessMocks) -> None:
    time_ = FakeTime()
    hub = build_hub(mocks, time_, hub_settings(retry={"max_attempts": 1}))
    try:
        await admin(
            mocks, "config-service", "POST", "/seed", json={"services": {"account-service": "http://gone.example.test"}}
        )
        kept = await hub.account.promote_account_to_hot_tier("ZX1234", 15)
        assert isinstance(kept, Deferred)
    finally:
        await hub.aclose()


async def test_http_errors_never_escape_untranslated(mocks: InProcessMocks, hub: ClientHub) -> None:
    await fault(mocks, "strategy-service", kind="drop")
    with pytest.raises(ServiceUnavailableError) as caught:
        await hub.strategy.create_default_strategy("QQ7777")
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


async def test_identical_reads_in_flight_share_one_request(mocks: InProcessMocks, hub: ClientHub) -> None:
    await fault(mocks, "strategy-service", kind="latency", delay_ms=50)
    same = await asyncio.gather(*(hub.strategy.get_strategy_validation(42) for _ in range(10)))
    other = await hub.strategy.get_strategy_validation(7)
    assert all(v is same[0] for v in same)  # one answer, shared
    paths = [e["path"] for e in await journal(mocks, "strategy-service", operation_id="validateStrategy")]
    assert sorted(paths) == ["/strategies/42/validate", "/strategies/7/validate"]
    assert other.strategy_id == 7
    again = await hub.strategy.get_strategy_validation(42)  # once landed, the next read asks again
    assert again.strategy_id == 42
    assert len(await journal(mocks, "strategy-service", operation_id="validateStrategy")) == 3


async def test_a_shared_read_gives_its_error_to_every_caller(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    hub = build_hub(mocks, fake_time, hub_settings(retry={"max_attempts": 1}))
    try:
        await fault(mocks, "strategy-service", kind="latency", delay_ms=50)
        await fault(mocks, "strategy-service", kind="status", status=503)
        results = await asyncio.gather(
            *(hub.strategy.get_strategy_validation(42) for _ in range(5)), return_exceptions=True
        )
    finally:
        await hub.aclose()
    assert all(isinstance(r, ServiceUnavailableError) for r in results)
    assert len(await journal(mocks, "strategy-service", operation_id="validateStrategy")) == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_read(mocks: InProcessMocks, hub: ClientHub) -> None:
    await fault(mocks, "strategy-service", kind="latency", delay_ms=50)
    first = asyncio.ensure_future(hub.strategy.get_strategy_validation(42))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(hub.strategy.get_strategy_validation(42))
    await asyncio.sleep(0.01)
    first.cancel()
    validation = await second
    assert validation.strategy_id == 42
    assert first.cancelled()
