"""Calendar service mock: weekday sessions per exchange segment, holidays, special sessions.

The holiday list is NSE-style sample data for 2026 (names and dates as an exchange
publishes them), not an authoritative calendar. For any other year the mock has no list:
no holidays, every weekday a trading day with the normal sessions (the contract says so).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply
from mocks.behaviours.common import timestamp
from mocks.clock import IST, MockClock, iso
from mocks.validation import MockRequest

EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "CDS", "MCX")
Session = tuple[str, str, str]  # kind, start, end (HH:MM:SS, IST, both ends included)

CASH = [
    ("pre_open", "09:00:00", "09:08:00"),
    ("normal", "09:15:00", "15:30:00"),
    ("post_close", "15:40:00", "16:00:00"),
]
WEEKDAY_SESSIONS: dict[str, list[Session]] = {
    "NSE": CASH,
    "BSE": CASH,
    "NFO": [("normal", "09:15:00", "15:30:00")],
    "BFO": [("normal", "09:15:00", "15:30:00")],
    "CDS": [("normal", "09:00:00", "17:00:00")],
    "MCX": [("normal", "09:00:00", "17:00:00"), ("evening", "17:00:00", "23:30:00")],
}
HOLIDAYS_2026 = [
    ("2026-01-26", "Republic Day"),
    ("2026-03-03", "Holi"),
    ("2026-03-26", "Shri Ram Navami"),
    ("2026-03-31", "Shri Mahavir Jayanti"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-14", "Dr. Baba Saheb Ambedkar Jayanti"),
    ("2026-05-01", "Maharashtra Day"),
    ("2026-05-28", "Bakri Id"),
    ("2026-06-26", "Muharram"),
    ("2026-09-14", "Ganesh Chaturthi"),
    ("2026-10-02", "Mahatma Gandhi Jayanti"),
    ("2026-10-20", "Dussehra"),
    ("2026-11-10", "Diwali Balipratipada"),
    ("2026-11-24", "Prakash Gurpurb Sri Guru Nanak Dev"),
    ("2026-12-25", "Christmas"),
]
SPECIAL_2026: dict[str, list[Session]] = {
    "2026-02-01": [("pre_open", "09:00:00", "09:08:00"), ("special", "09:15:00", "15:30:00")],  # Union Budget, a Sunday
    "2026-11-08": [("muhurat", "18:00:00", "19:00:00")],  # Diwali Muhurat trading, a Sunday
}
LOOKAHEAD_DAYS = 14


def _initial() -> dict[str, Any]:
    holidays = [{"date": d, "name": n} for d, n in HOLIDAYS_2026]
    special = {d: [{"kind": k, "start": s, "end": e} for k, s, e in rows] for d, rows in SPECIAL_2026.items()}
    return {
        "holidays": {exchange: holidays for exchange in EXCHANGES},
        "special_sessions": {exchange: special for exchange in EXCHANGES if exchange not in ("CDS",)},
    }


class CalendarBehaviour(Behaviour):
    """The calendar service: sessions and holidays per exchange, answered on the mock clock."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {
            "listHolidays": self.list_holidays,
            "getTradingDay": self.trading_day,
            "getMarketStatus": self.market_status,
        }
        self.states = [
            ProviderState(
                "(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2}) is a holiday on (?P<exchange>[A-Z]+)",
                "a holiday (params: name)",
                self._state_holiday,
            ),
            ProviderState(
                "(?P<exchange>[A-Z]+) has a special session on (?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})",
                "a special session (params: kind, start, end)",
                self._state_special,
            ),
        ]
        self.reset()

    @override
    def reset(self) -> None:
        self.holidays: dict[str, dict[date, str]] = {exchange: {} for exchange in EXCHANGES}
        self.special: dict[str, dict[date, list[Session]]] = {exchange: {} for exchange in EXCHANGES}
        self.seed(copy.deepcopy(_initial()))

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"holidays", "special_sessions"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected holidays, special_sessions")
        try:
            for exchange, rows in data.get("holidays", {}).items():
                for row in rows:
                    self.holidays[self._exchange(exchange)][date.fromisoformat(row["date"])] = str(row["name"])
            for exchange, days in data.get("special_sessions", {}).items():
                for day, rows in days.items():
                    sessions = [(r["kind"], r["start"], r["end"]) for r in rows]
                    for _, start, end in sessions:
                        if time.fromisoformat(start) > time.fromisoformat(end):
                            raise ValueError(f"session {start}-{end} ends before it starts")
                    self.special[self._exchange(exchange)][date.fromisoformat(day)] = sessions
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed calendar data: {exc!r}") from exc

    @staticmethod
    def _exchange(name: str) -> str:
        if name not in EXCHANGES:
            raise ValueError(f"unknown exchange {name!r}; expected one of {', '.join(EXCHANGES)}")
        return name

    @override
    def snapshot(self) -> dict[str, Any]:
        return {
            "holidays": {e: {d.isoformat(): n for d, n in sorted(h.items())} for e, h in self.holidays.items()},
            "special_sessions": {e: {d.isoformat(): s for d, s in sorted(v.items())} for e, v in self.special.items()},
        }

    def sessions_on(self, exchange: str, day: date) -> list[Session]:
        """The sessions of `exchange` on `day`: none on weekends and holidays, special ones where seeded."""
        if day in self.special[exchange]:
            return self.special[exchange][day]
        if day.weekday() >= 5 or day in self.holidays[exchange]:
            return []
        return WEEKDAY_SESSIONS[exchange]

    # -- handlers ------------------------------------------------------------------------
    def list_holidays(self, request: MockRequest) -> Reply:
        """`listHolidays`: an exchange's holidays of a year."""
        exchange, year = request.path_params["exchange"], request.query["year"]
        holidays = sorted(self.holidays[exchange].items())
        items = [{"date": d.isoformat(), "name": n} for d, n in holidays if d.year == year]
        return Reply(200, {"exchange": exchange, "year": year, "items": items})

    def trading_day(self, request: MockRequest) -> Reply:
        """`getTradingDay`: the sessions of one exchange day."""
        exchange, day = request.path_params["exchange"], date.fromisoformat(request.path_params["date"])
        sessions = self.sessions_on(exchange, day)
        name = self.holidays[exchange].get(day)
        return Reply(
            200,
            {
                "exchange": exchange,
                "date": day.isoformat(),
                "is_trading_day": bool(sessions),
                "holiday": {"date": day.isoformat(), "name": name} if name else None,
                "timezone": "Asia/Kolkata",
                "sessions": [{"kind": k, "start": s, "end": e} for k, s, e in sessions],
            },
        )

    def market_status(self, request: MockRequest) -> Reply:
        """`getMarketStatus`: whether an exchange is open at an instant, and its next change."""
        exchange = request.path_params["exchange"]
        at_text = request.query.get("at")
        # the contract's CalendarInstant keeps the year within 2000-2100, so this cannot overflow
        at = timestamp(at_text).astimezone(IST) if at_text else self.clock.now()
        intervals = self._intervals(exchange, at.date() - timedelta(days=1), LOOKAHEAD_DAYS + 1)
        current = next((iv for iv in intervals if iv[1] <= at <= iv[2]), None)
        if current is not None:
            next_change: datetime | None = current[2]
        else:
            next_change = next((iv[1] for iv in intervals if iv[1] > at), None)
        clock_time = at.time().replace(tzinfo=None)
        kinds = [
            k
            for k, s, e in self.sessions_on(exchange, at.date())
            if time.fromisoformat(s) <= clock_time <= time.fromisoformat(e)
        ]
        return Reply(
            200,
            {
                "exchange": exchange,
                "at": iso(at),
                "is_open": current is not None,
                "session": kinds[-1] if current and kinds else None,
                "next_change": iso(next_change) if next_change else None,
            },
        )

    def _intervals(self, exchange: str, first: date, days: int) -> list[tuple[str, datetime, datetime]]:
        """Sessions as IST instants, touching ones merged (the first one's kind is kept)."""
        merged: list[tuple[str, datetime, datetime]] = []
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            for kind, start, end in self.sessions_on(exchange, day):
                begin = datetime.combine(day, time.fromisoformat(start), IST)
                finish = datetime.combine(day, time.fromisoformat(end), IST)
                if merged and merged[-1][2] >= begin:
                    merged[-1] = (merged[-1][0], merged[-1][1], max(finish, merged[-1][2]))
                else:
                    merged.append((kind, begin, finish))
        return merged

    # -- provider states -----------------------------------------------------------------
    def _state_holiday(self, params: Mapping[str, Any]) -> None:
        self.seed({"holidays": {params["exchange"]: [{"date": params["date"], "name": params.get("name", "Holiday")}]}})

    def _state_special(self, params: Mapping[str, Any]) -> None:
        row = {
            "kind": params.get("kind", "special"),
            "start": params.get("start", "09:15:00"),
            "end": params.get("end", "15:30:00"),
        }
        self.seed({"special_sessions": {params["exchange"]: {params["date"]: [row]}}})
