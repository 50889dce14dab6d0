"""The five anomaly rules on real Redis: boundaries, windows, sessions, severities, logs, metrics."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from prometheus_client import CollectorRegistry

from order_service.services.order_anomaly_detector import (
    IST,
    AnomalyType,
    OrderAnomalyDetector,
    Severity,
    last_price_key,
    severity_for,
)
from suites.anomaly.helpers import THURSDAY, FixedCalendar, kinds, order, trading_day

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_30_orders_a_minute_pass_the_31st_is_flagged(detector: OrderAnomalyDetector) -> None:
    verdicts = [await detector.check_order(order(THURSDAY + timedelta(seconds=n))) for n in range(31)]
    assert all(AnomalyType.HIGH_FREQUENCY_ORDERS not in kinds(v) for v in verdicts[:30])
    assert AnomalyType.HIGH_FREQUENCY_ORDERS in kinds(verdicts[30])


async def test_a_burst_straddling_a_minute_boundary_is_caught(detector: OrderAnomalyDetector) -> None:
    """31 orders within 40 s, from 10:59:40 to 11:00:20: fixed per-minute buckets would see 20 and 11."""
    start = THURSDAY - timedelta(seconds=20)
    verdicts = [await detector.check_order(order(start + timedelta(milliseconds=1300 * n))) for n in range(31)]
    assert AnomalyType.HIGH_FREQUENCY_ORDERS in kinds(verdicts[-1])


async def test_orders_older_than_a_minute_leave_the_window(detector: OrderAnomalyDetector) -> None:
    for n in range(30):
        await detector.check_order(order(THURSDAY + timedelta(seconds=n)))
    later = await detector.check_order(order(THURSDAY + timedelta(seconds=60)))  # the first one has left
    assert AnomalyType.HIGH_FREQUENCY_ORDERS not in kinds(later)


@pytest.mark.parametrize(
    ("quantity", "price", "flagged"),
    [
        (50_000, "1", False),
        (50_001, "1", True),
        (1, "999999.99", False),
        (1, "1000000", False),
        (1, "1000000.01", True),
        (100, "9999.99", False),
        (100, "10000.01", True),
    ],
)
async def test_large_order_size_by_quantity_and_value(
    detector: OrderAnomalyDetector, quantity: int, price: str, flagged: bool
) -> None:
    verdict = await detector.check_order(order(quantity=quantity, price=price))
    assert (AnomalyType.LARGE_ORDER_SIZE in kinds(verdict)) is flagged


async def test_a_market_order_is_valued_at_the_last_traded_price(
    detector: OrderAnomalyDetector, redis_client: redis.Redis
) -> None:
    redis_client.set(last_price_key("RELIANCE"), "2950.55")
    small = await detector.check_order(order(symbol="RELIANCE", quantity=338, price=None))  # 997,285.90
    large = await detector.check_order(order(symbol="RELIANCE", quantity=340, price=None))  # 1,003,187.00
    unknown = await detector.check_order(order(symbol="NOPRICE", quantity=40_000, price=None))
    assert AnomalyType.LARGE_ORDER_SIZE not in kinds(small)
    found = next(a for a in large.anomalies if a.type is AnomalyType.LARGE_ORDER_SIZE)
    assert found.observed == "1003187"
    assert AnomalyType.LARGE_ORDER_SIZE not in kinds(unknown)  # no price known: quantity rule only


async def test_15_symbols_a_day_pass_the_16th_is_flagged(detector: OrderAnomalyDetector) -> None:
    verdicts = [
        await detector.check_order(order(THURSDAY + timedelta(minutes=2 * n), symbol=f"SYM{n}")) for n in range(16)
    ]
    assert all(AnomalyType.UNUSUAL_SYMBOLS not in kinds(v) for v in verdicts[:15])
    assert AnomalyType.UNUSUAL_SYMBOLS in kinds(verdicts[15])
    again = await detector.check_order(order(THURSDAY + timedelta(minutes=40), symbol="SYM0"))
    assert AnomalyType.UNUSUAL_SYMBOLS in kinds(again)  # still 16 distinct that day


async def test_symbols_roll_over_at_ist_midnight_not_utc(detector: OrderAnomalyDetector) -> None:
    late = datetime(2026, 11, 26, 23, 30, tzinfo=IST)  # 18:00 UTC
    for n in range(15):
        await detector.check_order(order(late + timedelta(seconds=n), symbol=f"S{n}"))
    next_day = datetime(2026, 11, 26, 18, 31, tzinfo=UTC)  # 00:01 IST on the 27th
    verdict = await detector.check_order(order(next_day, symbol="NEW"))
    assert AnomalyType.UNUSUAL_SYMBOLS not in kinds(verdict)


async def test_20_cancellations_a_minute_pass_the_21st_is_flagged(detector: OrderAnomalyDetector) -> None:
    verdicts = [await detector.check_cancellation("ZX1234", THURSDAY + timedelta(seconds=n)) for n in range(21)]
    assert all(not v.anomalies for v in verdicts[:20])
    assert kinds(verdicts[20]) == {AnomalyType.RAPID_CANCELLATIONS}


@pytest.mark.parametrize(
    ("clock", "off_hours"),
    [
        ("08:59:59", True),
        ("09:00:00", False),
        ("15:30:00", False),
        ("15:30:01", True),
        ("12:00:00", False),
    ],
)
async def test_session_edges_in_ist(detector: OrderAnomalyDetector, clock: str, off_hours: bool) -> None:
    at = datetime.fromisoformat(f"2026-11-26T{clock}+05:30")
    verdict = await detector.check_order(order(at))
    assert (AnomalyType.OFF_HOURS_ACTIVITY in kinds(verdict)) is off_hours


async def test_utc_inputs_are_judged_in_ist(detector: OrderAnomalyDetector) -> None:
    inside = await detector.check_order(order(datetime(2026, 11, 26, 3, 30, tzinfo=UTC)))  # 09:00 IST
    outside = await detector.check_order(order(datetime(2026, 11, 26, 3, 29, 59, tzinfo=UTC)))
    assert AnomalyType.OFF_HOURS_ACTIVITY not in kinds(inside)
    assert AnomalyType.OFF_HOURS_ACTIVITY in kinds(outside)


async def test_naive_datetimes_are_refused(detector: OrderAnomalyDetector) -> None:
    with pytest.raises(ValueError, match="naive"):
        await detector.check_order(order(datetime(2026, 11, 26, 11, 0)))


async def test_weekends_and_holidays_are_off_hours_special_sessions_are_not(
    detector: OrderAnomalyDetector, calendar: FixedCalendar
) -> None:
    calendar.days[date(2026, 10, 2)] = trading_day(
        {
            "exchange": "NSE",
            "date": "2026-10-02",
            "is_trading_day": False,
            "holiday": {"date": "2026-10-02", "name": "Mahatma Gandhi Jayanti"},
            "timezone": "Asia/Kolkata",
            "sessions": [],
        }
    )
    calendar.days[date(2026, 11, 8)] = trading_day(
        {
            "exchange": "NSE",
            "date": "2026-11-08",
            "is_trading_day": True,
            "holiday": None,
            "timezone": "Asia/Kolkata",
            "sessions": [{"kind": "muhurat", "start": "18:00:00", "end": "19:00:00"}],
        }
    )
    saturday = await detector.check_order(order(datetime(2026, 11, 28, 11, 0, tzinfo=IST)))
    holiday = await detector.check_order(order(datetime(2026, 10, 2, 11, 0, tzinfo=IST)))
    muhurat = await detector.check_order(order(datetime(2026, 11, 8, 18, 30, tzinfo=IST)))
    before_muhurat = await detector.check_order(order(datetime(2026, 11, 8, 11, 0, tzinfo=IST)))
    assert AnomalyType.OFF_HOURS_ACTIVITY in kinds(saturday)
    assert AnomalyType.OFF_HOURS_ACTIVITY in kinds(holiday)
    assert AnomalyType.OFF_HOURS_ACTIVITY not in kinds(muhurat)
    assert AnomalyType.OFF_HOURS_ACTIVITY in kinds(before_muhurat)


async def test_after_market_orders_are_tagged_not_flagged(detector: OrderAnomalyDetector) -> None:
    verdict = await detector.check_order(order(datetime(2026, 11, 26, 20, 0, tzinfo=IST), after_market=True))
    assert AnomalyType.OFF_HOURS_ACTIVITY not in kinds(verdict)
    assert verdict.tags == ("after_market",)


@pytest.mark.parametrize(
    ("observed", "severity"),
    [
        ("31", Severity.LOW),
        ("37.5", Severity.LOW),
        ("38", Severity.MEDIUM),
        ("45", Severity.MEDIUM),
        ("46", Severity.HIGH),
        ("60", Severity.HIGH),
        ("61", Severity.CRITICAL),
    ],
)
def test_severity_table(observed: str, severity: Severity) -> None:
    assert severity_for(Decimal(observed), Decimal(30)) is severity


async def test_logs_and_metrics_by_severity(
    detector: OrderAnomalyDetector, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="order_service.anomaly")
    await detector.check_order(order(quantity=60_000, price="1"))  # 1.2x: LOW
    await detector.check_order(order(quantity=70_000, price="1"))  # 1.4x: MEDIUM
    await detector.check_order(order(quantity=200_000, price="1"))  # 4x: CRITICAL
    lines = [(r.levelname, r.getMessage().split(" ", 1)) for r in caplog.records]
    assert [(level, tag) for level, (tag, _) in lines] == [
        ("INFO", "ORDER_ANOMALY_NOTICE"),
        ("WARNING", "ORDER_ANOMALY_WARNING"),
        ("CRITICAL", "ORDER_ANOMALY_CRITICAL"),
    ]
    critical = json.loads(lines[-1][1][1])
    assert critical == {
        "account": "ZX1234",
        "order_id": None,
        "rule": "large_order_size",
        "severity": "CRITICAL",
        "observed": "200000",
        "threshold": "50000",
    }
    assert (
        registry.get_sample_value(
            "order_service_order_anomalies_total", {"type": "large_order_size", "severity": "CRITICAL"}
        )
        == 1
    )


async def test_windows_live_in_keys_that_expire(detector: OrderAnomalyDetector, redis_client: redis.Redis) -> None:
    await detector.check_order(order())
    await detector.check_cancellation("ZX1234", THURSDAY)
    names = sorted(redis_client.keys("anomaly:*"))  # a test may look; the monitor never would
    assert names == ["anomaly:{ZX1234}:cancels", "anomaly:{ZX1234}:orders", "anomaly:{ZX1234}:symbols:20261126"]
    assert all(redis_client.ttl(name) > 0 for name in names)
