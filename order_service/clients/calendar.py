"""Client of the calendar service: trading days and sessions per exchange segment, cached."""

from __future__ import annotations

import time
from datetime import date

from order_service.clients.base import Call, ServiceClient
from order_service.clients.models import TradingDay

DAY_CACHE_SECONDS = 3600.0  # a day's sessions change rarely; an hour bounds a stale calendar


class CalendarServiceClient(ServiceClient):
    """The calendar service: trading sessions and holidays per exchange."""

    service = "calendar-service"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._days: dict[tuple[str, date], tuple[TradingDay, float]] = {}

    async def get_trading_day(self, exchange: str, day: date) -> TradingDay:
        """The sessions of one exchange day."""
        cached = self._days.get((exchange, day))
        if cached is not None and time.monotonic() - cached[1] < DAY_CACHE_SECONDS:
            return cached[0]
        found = await self._read(
            Call(
                "getTradingDay",
                "GET",
                f"/calendar/{exchange}/days/{day.isoformat()}",
                TradingDay,
                cache_key=(exchange, day),
            )
        )
        self._days[(exchange, day)] = (found, time.monotonic())
        return found
