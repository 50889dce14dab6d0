"""The detector's details that `make mutate` found unpinned: window arithmetic, key lifetimes, log lines, fallbacks."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, generate_latest
from redis.exceptions import NoScriptError

from order_service.clients.models import TradingDay
from order_service.services.order_anomaly_detector import (
    IST,
    Anomaly,
    AnomalyType,
    OrderAnomalyDetector,
    Severity,
    last_price_key,
)
from order_service.settings import AnomalySettings
from suites.anomaly.helpers import THURSDAY, kinds, order
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


class NoOffset(tzinfo):
    """A tzinfo that does not know its offset: as unusable as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


@pytest.mark.parametrize("moment", [datetime(2026, 11, 26, 11, 0), datetime(2026, 11, 26, 11, 0, tzinfo=NoOffset())])
async def test_a_time_without_an_offset_is_refused(detector: OrderAnomalyDetector, moment: datetime) -> None:
    message = r"^order times need a UTC offset \(naive datetimes are refused\)$"
    with pytest.raises(ValueError, match=message):
        await detector.check_order(order(moment))
    with pytest.raises(ValueError, match=message):
        await detector.check_cancellation("ZX1234", moment)


async def test_the_window_is_sixty_seconds_to_the_millisecond(detector: OrderAnomalyDetector) -> None:
    """31 orders, the last 59.950 s after the first: all inside one minute, so the 31st is flagged."""
    await detector.check_order(order(THURSDAY))
    verdicts = [await detector.check_order(order(THURSDAY + timedelta(seconds=59.95))) for _ in range(30)]
    assert AnomalyType.HIGH_FREQUENCY_ORDERS in kinds(verdicts[-1])


async def test_cancellations_share_the_millisecond_window(detector: OrderAnomalyDetector) -> None:
    await detector.check_cancellation("ZX1234", THURSDAY)
    verdicts = [await detector.check_cancellation("ZX1234", THURSDAY + timedelta(seconds=59.95)) for _ in range(20)]
    assert [a.type for a in verdicts[-1].anomalies] == [AnomalyType.RAPID_CANCELLATIONS]


async def test_a_cancellation_a_minute_later_has_left_the_window(detector: OrderAnomalyDetector) -> None:
    for _ in range(20):
        await detector.check_cancellation("ZX1234", THURSDAY)
    later = await detector.check_cancellation("ZX1234", THURSDAY + timedelta(seconds=60))
    assert later.anomalies == ()


async def test_the_day_s_symbols_live_until_an_hour_after_ist_midnight(
    detector: OrderAnomalyDetector, redis_client: redis.Redis
) -> None:
    await detector.check_order(order(THURSDAY))  # 11:00 IST: 13 h to midnight, then 1 h more
    ttl = redis_client.pttl("anomaly:{ZX1234}:symbols:20261126")
    assert 14 * 3_600_000 - 5_000 < ttl <= 14 * 3_600_000


async def test_a_market_order_is_valued_on_a_client_that_decodes(real_redis: RealRedis) -> None:
    """The last price comes back as text, not bytes, from a client with decode_responses."""
    client = aioredis.Redis.from_url(real_redis.url, decode_responses=True)
    try:
        await client.flushdb()
        await client.set(last_price_key("INFY"), "2000")
        detector = OrderAnomalyDetector(client, AnomalySettings())
        verdict = await detector.check_order(order(quantity=600, price=None))
        assert [(a.type, a.observed) for a in verdict.anomalies] == [(AnomalyType.LARGE_ORDER_SIZE, "1200000")]
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("quantity", "price", "severity", "observed", "threshold"),
    [
        (60_000, "100", Severity.CRITICAL, "6000000", "1000000"),  # quantity 1.2x LOW, value 6x CRITICAL
        (110_000, "1", Severity.CRITICAL, "110000", "50000"),  # quantity 2.2x CRITICAL, value 0.11x under
        (70_000, "16", Severity.MEDIUM, "70000", "50000"),  # quantity 1.4x MEDIUM, value 1.12x LOW
    ],
)
async def test_one_large_order_finding_the_more_severe_of_quantity_and_value(
    detector: OrderAnomalyDetector, quantity: int, price: str, severity: Severity, observed: str, threshold: str
) -> None:
    verdict = await detector.check_order(order(quantity=quantity, price=price))
    assert verdict.anomalies == (Anomaly(AnomalyType.LARGE_ORDER_SIZE, severity, observed, threshold),)


async def test_an_off_hours_finding_names_the_time_and_the_rule(detector: OrderAnomalyDetector) -> None:
    at = datetime(2026, 11, 26, 17, 45, 30, 250_000, tzinfo=UTC)  # 23:15:30 IST
    verdict = await detector.check_order(order(at))
    assert verdict.anomalies == (
        Anomaly(
            AnomalyType.OFF_HOURS_ACTIVITY,
            Severity.MEDIUM,
            "2026-11-26T23:15:30+05:30",
            "the exchange's sessions of the day",
        ),
    )


async def test_each_log_line_is_one_json_object_in_key_order(
    detector: OrderAnomalyDetector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="order_service.anomaly"):
        await detector.check_order(replace(order(quantity=60_000, price="1"), order_id="260401000000001"))
        await detector.check_order(replace(order(quantity=70_000, price="1"), order_id="260401000000002"))
        await detector.check_order(replace(order(quantity=110_000, price="1"), order_id="260401000000003"))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "INFO",
            'ORDER_ANOMALY_NOTICE {"account": "ZX1234", "observed": "60000", "order_id": "260401000000001", '
            '"rule": "large_order_size", "severity": "LOW", "threshold": "50000"}',
        ),
        (
            "WARNING",
            'ORDER_ANOMALY_WARNING {"account": "ZX1234", "observed": "70000", "order_id": "260401000000002", '
            '"rule": "large_order_size", "severity": "MEDIUM", "threshold": "50000"}',
        ),
        (
            "CRITICAL",
            'ORDER_ANOMALY_CRITICAL {"account": "ZX1234", "observed": "110000", "order_id": "260401000000003", '
            '"rule": "large_order_size", "severity": "CRITICAL", "threshold": "50000"}',
        ),
    ]


async def test_a_cancellation_finding_logs_its_account_and_order(
    detector: OrderAnomalyDetector, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(20):
        await detector.check_cancellation("QQ4040", THURSDAY, f"26040100000{n:04d}")
    with caplog.at_level(logging.INFO, logger="order_service.anomaly"):
        await detector.check_cancellation("QQ4040", THURSDAY, "260401000009999")
    [line] = [json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records]
    assert line == {
        "account": "QQ4040",
        "order_id": "260401000009999",
        "rule": "rapid_cancellations",
        "severity": "LOW",
        "observed": "21",
        "threshold": "20",
    }


async def test_the_metric_says_what_it_counts(detector: OrderAnomalyDetector, registry: CollectorRegistry) -> None:
    await detector.check_order(order(quantity=60_000, price="1"))
    exposed = generate_latest(registry).decode()
    assert "# HELP order_service_order_anomalies_total Order anomalies by type and severity.\n" in exposed
    assert 'order_service_order_anomalies_total{severity="LOW",type="large_order_size"} 1.0' in exposed


async def test_a_script_lost_twice_is_an_error_not_a_silent_pass(
    detector: OrderAnomalyDetector, client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A market order reloads a flushed script once; if it is gone again, the error shows."""

    async def load_nothing(script: str) -> str:
        return "not loaded"

    await client.script_flush()
    monkeypatch.setattr(client, "script_load", load_nothing)
    with pytest.raises(NoScriptError):
        await detector.check_order(order(price=None))


async def test_a_market_order_needs_no_multi(
    detector: OrderAnomalyDetector, client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    """One round trip: the window script and the price read are pipelined, not wrapped in MULTI/EXEC."""
    await detector.check_order(order(price=None))  # the script is loaded
    redis_client.config_resetstat()
    await detector.check_order(order(price=None))
    stats = redis_client.info("commandstats")
    assert "cmdstat_multi" not in stats
    assert stats["cmdstat_evalsha"]["calls"] == 1


class BrokenCalendar:
    async def get_trading_day(self, exchange: str, day: date) -> TradingDay:
        raise ConnectionError("calendar down")


@pytest.mark.parametrize(
    ("clock", "off_hours"),
    [("08:59:59", True), ("09:00:00", False), ("15:30:00", False), ("15:30:01", True), ("15:31:00", True)],
)
async def test_without_the_calendar_the_seed_s_session_stands_in(
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture, clock: str, off_hours: bool
) -> None:
    detector = OrderAnomalyDetector(client, AnomalySettings(), calendar=BrokenCalendar())
    at = datetime.combine(THURSDAY.date(), datetime.strptime(clock, "%H:%M:%S").time(), IST)
    with caplog.at_level(logging.WARNING, logger="order_service.anomaly"):
        verdict = await detector.check_order(order(at))
    assert (AnomalyType.OFF_HOURS_ACTIVITY in kinds(verdict)) is off_hours
    assert caplog.records[0].getMessage() == (
        "ANOMALY_CALENDAR_UNAVAILABLE NSE: using 09:00-15:30 IST on weekdays (calendar down)"
    )


def test_plain_drops_trailing_zeros_and_never_writes_an_exponent() -> None:
    from order_service.services.order_anomaly_detector import _plain

    assert [_plain(Decimal(v)) for v in ("1E+6", "1200000.00", "12.50", "0.10", "100", "0.000")] == [
        "1000000",
        "1200000",
        "12.5",
        "0.1",
        "100",
        "0",
    ]
