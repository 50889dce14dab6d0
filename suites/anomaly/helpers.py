"""What the anomaly tests share: a trading Thursday, a fixed NSE-like calendar, order events."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from order_service.clients.models import TradingDay
from order_service.services.order_anomaly_detector import IST, AnomalyType, OrderEvent, Verdict

THURSDAY = datetime(2026, 11, 26, 11, 0, tzinfo=IST)  # a trading day, mid-session


def trading_day(data: dict[str, object]) -> TradingDay:
    return TradingDay.model_validate_json(json.dumps(data))  # as the calendar client parses answers


class FixedCalendar:
    """NSE-like weekdays; tests put holidays and special sessions in `days`."""

    def __init__(self) -> None:
        self.days: dict[date, TradingDay] = {}

    async def get_trading_day(self, exchange: str, day: date) -> TradingDay:
        if day in self.days:
            return self.days[day]
        sessions = (
            []
            if day.weekday() >= 5
            else [
                {"kind": "pre_open", "start": "09:00:00", "end": "09:08:00"},
                {"kind": "normal", "start": "09:15:00", "end": "15:30:00"},
                {"kind": "post_close", "start": "15:40:00", "end": "16:00:00"},
            ]
        )
        return trading_day(
            {
                "exchange": exchange,
                "date": day.isoformat(),
                "is_trading_day": bool(sessions),
                "holiday": None,
                "timezone": "Asia/Kolkata",
                "sessions": sessions,
            }
        )


def order(
    at: datetime = THURSDAY,
    symbol: str = "INFY",
    quantity: int = 10,
    price: str | None = "100",
    account: str = "ZX1234",
    after_market: bool = False,
) -> OrderEvent:
    return OrderEvent(
        account=account,
        exchange="NSE",
        tradingsymbol=symbol,
        quantity=quantity,
        price=Decimal(price) if price is not None else None,
        at=at,
        after_market=after_market,
    )


def kinds(verdict: Verdict) -> set[AnomalyType]:
    return {a.type for a in verdict.anomalies}
