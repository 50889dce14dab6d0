"""The Redis detector against a simple in-memory model (hypothesis), two replicas hammering one Redis,
and sessions from the calendar-service mock through the real calendar client."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_service.clients import ClientHub
from order_service.services.order_anomaly_detector import IST, AnomalyType, OrderAnomalyDetector, OrderEvent
from order_service.settings import AnomalySettings
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
START = datetime(2026, 11, 26, 10, 0, tzinfo=IST)
SETTINGS = AnomalySettings(orders_per_minute=5, symbols_per_day=3, cancellations_per_minute=4)


class Reference:
    """The rules written the plain way: lists of event times per account, sets of symbols per IST day."""

    def __init__(self, limits: AnomalySettings) -> None:
        self.limits = limits
        self.orders: dict[str, list[float]] = defaultdict(list)
        self.cancels: dict[str, list[float]] = defaultdict(list)
        self.symbols: dict[tuple[str, date], set[str]] = defaultdict(set)

    @staticmethod
    def _in_window(times: list[float], now: float) -> int:
        return sum(1 for t in times if now - 60 < t <= now)

    def order(self, account: str, at: datetime, symbol: str) -> set[AnomalyType]:
        now = at.timestamp()
        self.orders[account].append(now)
        self.symbols[(account, at.astimezone(IST).date())].add(symbol)
        found = set()
        if self._in_window(self.orders[account], now) > self.limits.orders_per_minute:
            found.add(AnomalyType.HIGH_FREQUENCY_ORDERS)
        if len(self.symbols[(account, at.astimezone(IST).date())]) > self.limits.symbols_per_day:
            found.add(AnomalyType.UNUSUAL_SYMBOLS)
        return found

    def cancel(self, account: str, at: datetime) -> set[AnomalyType]:
        now = at.timestamp()
        self.cancels[account].append(now)
        over = self._in_window(self.cancels[account], now) > self.limits.cancellations_per_minute
        return {AnomalyType.RAPID_CANCELLATIONS} if over else set()


events = st.lists(
    st.tuples(
        st.sampled_from(["order", "cancel"]),
        st.sampled_from(["AA1111", "BB2222"]),
        st.integers(min_value=0, max_value=500),  # seconds since START, ascending below
        st.sampled_from(["INFY", "TCS", "SBIN", "ITC", "HDFC"]),
    ),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="module")
def url(real_redis: RealRedis) -> str:
    return real_redis.url


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_the_redis_detector_agrees_with_the_reference_model(
    url: str, sequence: list[tuple[str, str, int, str]]
) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        await client.flushdb()
        detector = OrderAnomalyDetector(client, SETTINGS)
        reference = Reference(SETTINGS)
        try:
            for kind, account, offset, symbol in sorted(sequence, key=lambda e: e[2]):
                at = START + timedelta(seconds=offset)
                if kind == "order":
                    verdict = await detector.check_order(OrderEvent(account, "NSE", symbol, 1, None, at))
                    got = {a.type for a in verdict.anomalies} - {AnomalyType.OFF_HOURS_ACTIVITY}
                    assert got == reference.order(account, at, symbol)
                else:
                    verdict = await detector.check_cancellation(account, at)
                    assert {a.type for a in verdict.anomalies} == reference.cancel(account, at)
        finally:
            await client.aclose()

    asyncio.run(run())


async def test_two_replicas_never_let_more_than_the_limit_through(url: str, redis_client: redis.Redis) -> None:
    first, second = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    limits = AnomalySettings()
    replicas = [OrderAnomalyDetector(first, limits), OrderAnomalyDetector(second, limits)]
    at = START + timedelta(seconds=1)

    async def place(n: int) -> bool:
        verdict = await replicas[n % 2].check_order(OrderEvent("ZX1234", "NSE", "INFY", 1, None, at))
        return AnomalyType.HIGH_FREQUENCY_ORDERS in {a.type for a in verdict.anomalies}

    try:
        flagged = await asyncio.gather(*(place(n) for n in range(200)))
    finally:
        await first.aclose()
        await second.aclose()
    assert flagged.count(False) == limits.orders_per_minute  # exactly the first 30, whoever served them
    assert flagged.count(True) == 170


@pytest.fixture
async def hub_with_calendar(mocks: object, fake_time: object) -> AsyncIterator[ClientHub]:
    from suites.fixtures.clients import build_hub

    hub = build_hub(mocks, fake_time)  # type: ignore[arg-type]
    yield hub
    await hub.aclose()


async def test_a_holiday_and_a_special_session_from_the_calendar_mock(
    url: str, redis_client: redis.Redis, hub_with_calendar: ClientHub
) -> None:
    client = aioredis.Redis.from_url(url)
    detector = OrderAnomalyDetector(client, AnomalySettings(), calendar=hub_with_calendar.calendar)
    try:
        holiday = await detector.check_order(
            OrderEvent("ZX1234", "NSE", "INFY", 1, None, datetime(2026, 10, 2, 11, 0, tzinfo=IST))
        )
        budget_sunday = await detector.check_order(
            OrderEvent("ZX1234", "NSE", "INFY", 1, None, datetime(2026, 2, 1, 11, 0, tzinfo=IST))
        )
        mcx_evening = await detector.check_order(
            OrderEvent("ZX1234", "MCX", "GOLD", 1, None, datetime(2026, 11, 26, 21, 0, tzinfo=IST))
        )
        nse_evening = await detector.check_order(
            OrderEvent("ZX1234", "NSE", "INFY", 1, None, datetime(2026, 11, 26, 21, 0, tzinfo=IST))
        )
    finally:
        await client.aclose()
    off = AnomalyType.OFF_HOURS_ACTIVITY
    assert off in {a.type for a in holiday.anomalies}
    assert off not in {a.type for a in budget_sunday.anomalies}  # the Union Budget session, a Sunday
    assert off not in {a.type for a in mcx_evening.anomalies}  # MCX trades its evening session
    assert off in {a.type for a in nse_evening.anomalies}


async def test_without_the_calendar_the_seed_rule_stands_in(
    url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    class Down:
        async def get_trading_day(self, exchange: str, day: date) -> object:
            raise ConnectionError("calendar unreachable")

    client = aioredis.Redis.from_url(url)
    detector = OrderAnomalyDetector(client, AnomalySettings(), calendar=Down())  # type: ignore[arg-type]
    try:
        inside = await detector.check_order(OrderEvent("ZX1234", "NSE", "INFY", 1, None, START))
        weekend = await detector.check_order(
            OrderEvent("ZX1234", "NSE", "INFY", 1, None, datetime(2026, 11, 28, 11, 0, tzinfo=IST))
        )
    finally:
        await client.aclose()
    assert AnomalyType.OFF_HOURS_ACTIVITY not in {a.type for a in inside.anomalies}
    assert AnomalyType.OFF_HOURS_ACTIVITY in {a.type for a in weekend.anomalies}
    assert "ANOMALY_CALENDAR_UNAVAILABLE" in caplog.text
