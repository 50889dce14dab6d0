"""Analytics service mock: daily P&L upserts with cumulative P&L and drawdown derived on read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply
from mocks.behaviours.common import money, percent
from mocks.clock import MockClock, iso
from mocks.errors import RequestRejected, Violation
from mocks.validation import MockRequest

STRATEGY = r"(?P<strategy_id>[0-9]+)"
ZERO = Decimal(0)
# The contract's Money and Percent formats: at most 15 integer digits, percentages under a million.
MONEY_LIMIT = Decimal(10) ** 15
PERCENT_LIMIT = Decimal(1_000_000)
_FIGURES = ("cumulative_pnl", "high_water_mark", "drawdown")


@dataclass
class Day:
    """One stored metric day: the figures sent, its version and when it was last written."""

    day_pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    trades_count: int
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class Point:
    """One stored day with the figures derived from every day up to it."""

    metric_date: date
    day: Day
    cumulative: Decimal
    high_water_mark: Decimal

    @property
    def drawdown(self) -> Decimal:
        """How far the cumulative P&L is below its high-water mark."""
        return self.high_water_mark - self.cumulative

    @property
    def drawdown_pct(self) -> Decimal:
        """The drawdown as a percentage of the high-water mark (0 without a positive mark)."""
        return self.drawdown * 100 / self.high_water_mark if self.high_water_mark > 0 else ZERO


class AnalyticsBehaviour(Behaviour):
    """The analytics service: P&L metrics upserted by strategy and day, with derived cumulative figures."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {
            "calculatePnlMetrics": self.calculate,
            "getPnlMetrics": self.metrics,
            "getPnlDrawdown": self.drawdown,
            "getPreviousCumulativePnl": self.previous_cumulative,
            "bulkCalculatePnlMetrics": self.bulk_calculate,
        }
        self.states = [
            ProviderState(
                f"strategy {STRATEGY} has no P&L metrics", "nothing stored for the strategy", self._state_empty
            ),
            ProviderState(
                f"strategy {STRATEGY} has P&L metrics",
                "stored days (params: days = list of PnlInput)",
                self._state_days,
            ),
            ProviderState(
                f"strategy {STRATEGY} has P&L metrics for (?P<metric_date>[0-9-]{{10}})",
                "one stored day (params: day_pnl)",
                self._state_days,
            ),
        ]
        self.reset()

    # -- state -------------------------------------------------------------------------
    @override
    def reset(self) -> None:
        self.days: dict[int, dict[date, Day]] = {}

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"metrics"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected metrics (a list of PnlInput)")
        metrics = data.get("metrics", [])
        if not isinstance(metrics, list):
            raise ValueError("metrics must be a list of PnlInput")
        try:
            self._store_readable(metrics, "metrics.")
        except RequestRejected as exc:
            raise ValueError(exc.message) from exc
        except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
            raise ValueError(f"each metric needs strategy_id, metric_date, day_pnl ({exc!r})") from exc

    @override
    def snapshot(self) -> dict[str, Any]:
        return {str(sid): [self._metric(sid, p) for p in self._series(sid)] for sid in sorted(self.days)}

    def _store(self, item: Mapping[str, Any]) -> tuple[bool, int, date]:
        strategy_id, metric_date = int(item["strategy_id"]), date.fromisoformat(item["metric_date"])
        days = self.days.setdefault(strategy_id, {})
        previous = days.get(metric_date)
        days[metric_date] = Day(
            day_pnl=Decimal(item["day_pnl"]),
            realized_pnl=Decimal(item.get("realized_pnl", item["day_pnl"])),
            unrealized_pnl=Decimal(item.get("unrealized_pnl", "0")),
            trades_count=int(item.get("trades_count", 0)),
            version=previous.version + 1 if previous else 1,
            updated_at=self.clock.now(),
        )
        return previous is None, strategy_id, metric_date

    def _store_readable(self, items: list[Mapping[str, Any]], prefix: str) -> list[tuple[bool, int, date]]:
        """Store `items` in order, all or none: refused with 422 when a derived figure would leave the contract.

        A day whose cumulative P&L, high-water mark, drawdown or drawdown percentage cannot be
        written in the contract's formats would make every later read of the strategy fail.
        """
        undo: list[tuple[int, date, Day | None]] = []
        stored = []
        for index, item in enumerate(items):
            sid, day = int(item["strategy_id"]), date.fromisoformat(item["metric_date"])
            undo.append((sid, day, self.days.get(sid, {}).get(day)))
            stored.append(self._store(item))
            problem = self._unreadable(sid)
            if problem is not None:
                for sid_, day_, previous in reversed(undo):
                    if previous is None:
                        del self.days[sid_][day_]
                    else:
                        self.days[sid_][day_] = previous
                    if not self.days[sid_]:
                        del self.days[sid_]
                field = f"{prefix}{index}.day_pnl" if prefix else "day_pnl"
                raise RequestRejected(
                    422,
                    "validation_failed",
                    f"strategy {sid} would have {problem}; nothing was stored",
                    (Violation("body", field, problem),),
                )
        return stored

    def _unreadable(self, strategy_id: int) -> str | None:
        """What in the strategy's series cannot be written in the contract's formats, if anything."""
        for point in self._series(strategy_id):
            figures = (point.cumulative, point.high_water_mark, point.drawdown)
            for name, value in zip(_FIGURES, figures, strict=True):
                if abs(value.quantize(Decimal("0.0001"))) >= MONEY_LIMIT:
                    return f"a {name} of 10^15 INR or more on {point.metric_date}"
            if point.drawdown_pct.quantize(Decimal("0.0001")) >= PERCENT_LIMIT:
                return f"a drawdown_pct of 1,000,000 % or more on {point.metric_date}"
        return None

    def _series(self, strategy_id: int) -> Iterator[Point]:
        cumulative, high = ZERO, ZERO
        for metric_date, day in sorted(self.days.get(strategy_id, {}).items()):
            cumulative += day.day_pnl
            high = max(high, cumulative)
            yield Point(metric_date, day, cumulative, high)

    def _metric(self, strategy_id: int, point: Point) -> dict[str, Any]:
        day = point.day
        return {
            "strategy_id": strategy_id,
            "metric_date": point.metric_date.isoformat(),
            "day_pnl": money(day.day_pnl),
            "realized_pnl": money(day.realized_pnl),
            "unrealized_pnl": money(day.unrealized_pnl),
            "trades_count": day.trades_count,
            "cumulative_pnl": money(point.cumulative),
            "high_water_mark": money(point.high_water_mark),
            "drawdown": money(point.drawdown),
            "drawdown_pct": percent(point.drawdown_pct),
            "version": day.version,
            "updated_at": iso(day.updated_at),
        }

    def _point(self, strategy_id: int, metric_date: date) -> Point:
        return next(p for p in self._series(strategy_id) if p.metric_date == metric_date)

    @staticmethod
    def _in_range(request: MockRequest, points: Iterator[Point]) -> list[Point]:
        start = request.query.get("from_date")
        end = request.query.get("to_date")
        low = date.fromisoformat(start) if start else date.min
        high = date.fromisoformat(end) if end else date.max
        return [p for p in points if low <= p.metric_date <= high]

    # -- handlers ------------------------------------------------------------------------
    def calculate(self, request: MockRequest) -> Reply:
        """`calculatePnlMetrics`: upsert one strategy's day."""
        [(created, strategy_id, metric_date)] = self._store_readable([request.body], "")
        return Reply(201 if created else 200, self._metric(strategy_id, self._point(strategy_id, metric_date)))

    def bulk_calculate(self, request: MockRequest) -> Reply:
        """`bulkCalculatePnlMetrics`: upsert many days, each answered on its own."""
        items = request.body["items"]  # the schema checked every item before any is stored
        stored = self._store_readable(items, "items.")
        results = [
            {"status": "created" if created else "updated", "metric": self._metric(sid, self._point(sid, day))}
            for created, sid, day in stored
        ]
        created_count = sum(1 for created, _, _ in stored if created)
        return Reply(200, {"created": created_count, "updated": len(stored) - created_count, "results": results})

    def metrics(self, request: MockRequest) -> Reply:
        """`getPnlMetrics`: a strategy's stored days in a date range, a page at a time."""
        strategy_id = request.query["strategy_id"]
        points = self._in_range(request, self._series(strategy_id))
        after = request.query.get("cursor")
        remaining = [p for p in points if after is None or p.metric_date.isoformat() > after]
        limit = request.query.get("limit", 100)
        page = remaining[:limit]
        next_cursor = page[-1].metric_date.isoformat() if len(remaining) > limit else None
        return Reply(200, {"items": [self._metric(strategy_id, p) for p in page], "next_cursor": next_cursor})

    def drawdown(self, request: MockRequest) -> Reply:
        """`getPnlDrawdown`: the largest drawdown of a strategy in a date range."""
        strategy_id = request.query["strategy_id"]
        points = self._in_range(request, self._series(strategy_id))
        worst = max(points, key=lambda p: (p.drawdown, -p.metric_date.toordinal()), default=None)
        peak = None
        if worst is not None and worst.drawdown > 0:
            peaks = [p for p in points if p.metric_date <= worst.metric_date and p.cumulative == worst.high_water_mark]
            peak = peaks[-1] if peaks else None
        last = points[-1] if points else None
        has_drawdown = worst is not None and worst.drawdown > 0
        return Reply(
            200,
            {
                "strategy_id": strategy_id,
                "max_drawdown": money(worst.drawdown) if worst else "0",
                "max_drawdown_pct": percent(worst.drawdown_pct if worst else ZERO),
                "peak_date": peak.metric_date.isoformat() if peak else None,
                "trough_date": worst.metric_date.isoformat() if worst and has_drawdown else None,
                "current_drawdown": money(last.drawdown) if last else "0",
                "high_water_mark": money(last.high_water_mark) if last else "0",
                "days": len(points),
            },
        )

    def previous_cumulative(self, request: MockRequest) -> Reply:
        """`getPreviousCumulativePnl`: the cumulative P&L of the last day before a date."""
        strategy_id = request.query["strategy_id"]
        before = date.fromisoformat(request.query["before_date"])
        earlier = [p for p in self._series(strategy_id) if p.metric_date < before]
        last = earlier[-1] if earlier else None
        return Reply(
            200,
            {
                "strategy_id": strategy_id,
                "before_date": before.isoformat(),
                "metric_date": last.metric_date.isoformat() if last else None,
                "cumulative_pnl": money(last.cumulative) if last else "0",
            },
        )

    # -- provider states -----------------------------------------------------------------
    def _state_empty(self, params: Mapping[str, Any]) -> None:
        self.days.pop(int(params["strategy_id"]), None)

    def _state_days(self, params: Mapping[str, Any]) -> None:
        strategy_id = int(params["strategy_id"])
        days = params.get("days") or [
            {"metric_date": params.get("metric_date", "2026-11-25"), "day_pnl": params.get("day_pnl", "1000")}
        ]
        self.seed({"metrics": [{**day, "strategy_id": strategy_id} for day in days]})
