"""Error mapping, retry policy and the circuit breaker, on respx-mocked transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from order_service.clients.breaker import CircuitBreaker
from order_service.clients.retry import RetryPolicy, parse_retry_after
from order_service.clients.strategy import StrategyServiceClient
from order_service.errors import (
    CircuitOpenError,
    ServiceRejectedError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from order_service.settings import BreakerSettings, RetrySettings, Settings
from suites.fixtures.clients import FakeTime

pytestmark = pytest.mark.anyio
BASE = "http://strategy.test"
VALID = {
    "strategy_id": 42,
    "valid": True,
    "status": "active",
    "reason": None,
    "checked_at": "2026-11-26T10:15:00+05:30",
}
STRATEGY = {
    "strategy_id": 7,
    "name": "Default",
    "account_id": "ZX1234",
    "is_default": True,
    "status": "active",
    "created_at": "2026-04-01T09:00:00+05:30",
}


def client(time_: FakeTime, **settings: object) -> StrategyServiceClient:
    return StrategyServiceClient(
        base_url=BASE, settings=Settings.model_validate(settings), sleep=time_.sleep, rand=lambda: 1.0
    )


@respx.mock
async def test_a_connect_error_is_retried_then_unavailable(fake_time: FakeTime) -> None:
    route = respx.get(f"{BASE}/strategies/42/validate").mock(side_effect=httpx.ConnectError("refused"))
    async with client(fake_time) as strategy:
        with pytest.raises(ServiceUnavailableError, match="cannot reach") as caught:
            await strategy.validate_strategy(42)
    assert route.call_count == 3
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert fake_time.sleeps == [0.05, 0.1]  # backoff doubles (jitter pinned to its ceiling)


@respx.mock
async def test_a_connection_reset_as_it_opens_is_unavailable_not_a_crash(fake_time: FakeTime) -> None:
    """Found by the crash tier: httpcore on anyio raised AttributeError when a cut link reset a new socket."""
    reset = AttributeError("'NoneType' object has no attribute 'getpeername'")
    respx.get(f"{BASE}/strategies/42/validate").mock(side_effect=reset)
    async with client(fake_time) as strategy:
        with pytest.raises(ServiceUnavailableError, match="reset as it opened") as caught:
            await strategy.validate_strategy(42)
    assert caught.value.__cause__ is reset


@respx.mock
async def test_another_attribute_error_is_a_bug_and_stays_one(fake_time: FakeTime) -> None:
    respx.get(f"{BASE}/strategies/42/validate").mock(side_effect=AttributeError("no attribute 'frobnicate'"))
    async with client(fake_time) as strategy:
        with pytest.raises(AttributeError, match="frobnicate"):
            await strategy.validate_strategy(42)


@respx.mock
async def test_a_read_timeout_is_a_timeout(fake_time: FakeTime) -> None:
    respx.get(f"{BASE}/strategies/42/validate").mock(side_effect=httpx.ReadTimeout("slow"))
    async with client(fake_time, retry={"max_attempts": 1}) as strategy:
        with pytest.raises(ServiceTimeoutError, match="no answer in time"):
            await strategy.validate_strategy(42)


@respx.mock
async def test_503_then_200_succeeds_after_one_retry(fake_time: FakeTime) -> None:
    route = respx.get(f"{BASE}/strategies/42/validate").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=VALID)]
    )
    async with client(fake_time) as strategy:
        assert await strategy.validate_strategy(42) is True
    assert route.call_count == 2


@respx.mock
async def test_retry_after_is_honoured_and_capped(fake_time: FakeTime) -> None:
    respx.get(f"{BASE}/strategies/42/validate").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(503, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=VALID),
        ]
    )
    async with client(fake_time) as strategy:
        assert await strategy.validate_strategy(42) is True
    assert fake_time.sleeps == [2.0, 5.0]  # 3600 s capped at retry_after_cap


@respx.mock
async def test_a_post_without_idempotency_key_is_never_retried(fake_time: FakeTime) -> None:
    route = respx.post(f"{BASE}/strategies/default").mock(side_effect=httpx.ReadTimeout("lost answer"))
    async with client(fake_time) as strategy:
        with pytest.raises(ServiceTimeoutError):
            await strategy.create_default_strategy("ZX1234")
    assert route.call_count == 1  # it may have been applied: trying again could create twice


@respx.mock
async def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(fake_time: FakeTime) -> None:
    route = respx.post(f"{BASE}/strategies/42/sync-pnl").mock(side_effect=httpx.ConnectError("refused"))
    from decimal import Decimal

    from order_service.clients.models import PnlSync

    pnl = PnlSync(
        as_of=datetime(2026, 11, 26, 10, tzinfo=UTC),
        realized_pnl=Decimal(1),
        unrealized_pnl=Decimal(0),
        total_pnl=Decimal(1),
    )
    async with client(fake_time) as strategy:
        with pytest.raises(ServiceUnavailableError):
            await strategy.sync_strategy_pnl(42, pnl)  # no outbox given: the error is raised
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert route.call_count == 3
    assert len(keys) == 1


@respx.mock
async def test_a_4xx_is_never_retried(fake_time: FakeTime) -> None:
    route = respx.get(f"{BASE}/strategies/0/validate").mock(
        return_value=httpx.Response(422, json={"error": "validation_failed", "message": "bad id"})
    )
    async with client(fake_time) as strategy:
        with pytest.raises(ServiceRejectedError, match="bad id"):
            await strategy.validate_strategy(0)
    assert route.call_count == 1


@respx.mock
async def test_201_and_200_are_both_success_for_get_or_create(fake_time: FakeTime) -> None:
    respx.post(f"{BASE}/strategies/default").mock(
        side_effect=[
            httpx.Response(201, json=STRATEGY),
            httpx.Response(200, json=STRATEGY),
        ]
    )
    async with client(fake_time) as strategy:
        assert await strategy.create_default_strategy("ZX1234") == await strategy.create_default_strategy("ZX1234")


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    top = RetryPolicy(RetrySettings(backoff_base=0.1, backoff_max=0.3), rand=lambda: 1.0)
    bottom = RetryPolicy(RetrySettings(backoff_base=0.1, backoff_max=0.3), rand=lambda: 0.0)
    assert [top.delay(n, None) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]
    assert bottom.delay(3, None) == 0.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(later, now=lambda: now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_breaker_opens_half_opens_and_closes(fake_time: FakeTime) -> None:
    breaker = CircuitBreaker("s", BreakerSettings(failure_threshold=3, reset_timeout=10), clock=fake_time)
    states = []
    for _ in range(3):
        breaker.record_failure()
        states.append(breaker.state)
    assert states == ["closed", "closed", "open"]
    assert not breaker.allow()
    fake_time.now += 10
    assert breaker.state == "half_open"
    assert breaker.allow()  # the one trial call
    assert not breaker.allow()  # and no second one
    breaker.record_success()
    assert breaker.snapshot() == {"state": "closed", "consecutive_failures": 0, "opened_at": None}


def test_a_failed_trial_opens_the_breaker_again(fake_time: FakeTime) -> None:
    breaker = CircuitBreaker("s", BreakerSettings(failure_threshold=2, reset_timeout=5), clock=fake_time)
    breaker.record_failure()
    breaker.record_failure()
    fake_time.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.snapshot()["opened_at"] is not None


@respx.mock
async def test_an_open_breaker_fails_fast_without_a_call(fake_time: FakeTime) -> None:
    route = respx.get(f"{BASE}/strategies/42/validate").mock(return_value=httpx.Response(503))
    async with client(fake_time, retry={"max_attempts": 1}, breaker={"failure_threshold": 2}) as strategy:
        for _ in range(2):
            with pytest.raises(ServiceUnavailableError):
                await strategy.validate_strategy(42)
        with pytest.raises(CircuitOpenError, match="circuit open"):
            await strategy.validate_strategy(42)
    assert route.call_count == 2


def test_a_client_needs_an_address() -> None:
    with pytest.raises(ValueError, match="base_url or a resolver"):
        StrategyServiceClient()
