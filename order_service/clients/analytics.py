"""Client of the analytics service: replaces public.strategy_pnl_metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from order_service.clients.base import Call, ServiceClient, new_idempotency_key
from order_service.clients.models import BulkResult, Drawdown, PnlInput, PnlMetric, PnlMetricPage, PreviousCumulative
from order_service.fallbacks.outbox import Deferred


def _range(strategy_id: int, from_date: date | None, to_date: date | None) -> dict[str, Any]:
    params: dict[str, Any] = {"strategy_id": strategy_id}
    if from_date:
        params["from_date"] = from_date.isoformat()
    if to_date:
        params["to_date"] = to_date.isoformat()
    return params


class AnalyticsServiceClient(ServiceClient):
    """The analytics service: P&L metrics per strategy and day."""

    service = "analytics-service"

    async def calculate_and_store_pnl_metrics(
        self, strategy_id: int, metric_date: date, pnl_data: Mapping[str, Decimal | int]
    ) -> PnlMetric | Deferred:
        """Upsert one strategy-day (`pnl_data`: day_pnl, realized_pnl, unrealized_pnl, trades_count)."""
        item = PnlInput.model_validate({"strategy_id": strategy_id, "metric_date": metric_date, **pnl_data})
        return await self._write(
            Call(
                "calculatePnlMetrics",
                "POST",
                "/analytics/pnl/calculate",
                PnlMetric,
                success=frozenset({200, 201}),
                body=item.model_dump(mode="json"),
                idempotency_key=new_idempotency_key("pnl"),
            )
        )

    async def bulk_calculate_pnl_metrics(self, items: Sequence[PnlInput]) -> BulkResult | Deferred:
        """Upsert many days at once; kept in the outbox if the owner is away."""
        return await self._write(
            Call(
                "bulkCalculatePnlMetrics",
                "POST",
                "/analytics/pnl/bulk-calculate",
                BulkResult,
                body={"items": [item.model_dump(mode="json") for item in items]},
                idempotency_key=new_idempotency_key("pnl-bulk"),
            )
        )

    async def get_pnl_metrics(
        self,
        strategy_id: int,
        *,
        from_date: date | None = None,
        to_date: date | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> PnlMetricPage:
        """A strategy's stored days in a date range, one page."""
        params = _range(strategy_id, from_date, to_date) | {"limit": limit} | ({"cursor": cursor} if cursor else {})
        return await self._read(
            Call(
                "getPnlMetrics",
                "GET",
                "/analytics/pnl/metrics",
                PnlMetricPage,
                params=params,
                cache_key=tuple(sorted(params.items())),
            )
        )

    async def get_pnl_drawdown(
        self, strategy_id: int, *, from_date: date | None = None, to_date: date | None = None
    ) -> Drawdown:
        """The largest drawdown of a strategy in a date range."""
        params = _range(strategy_id, from_date, to_date)
        return await self._read(
            Call(
                "getPnlDrawdown",
                "GET",
                "/analytics/pnl/drawdown",
                Drawdown,
                params=params,
                cache_key=tuple(sorted(params.items())),
            )
        )

    async def get_previous_cumulative_pnl(self, strategy_id: int, before_date: date) -> Decimal:
        """Cumulative P&L at the last stored day before `before_date` (0 when there is none)."""
        return (await self.get_previous_cumulative(strategy_id, before_date)).cumulative_pnl

    async def get_previous_cumulative(self, strategy_id: int, before_date: date) -> PreviousCumulative:
        """The cumulative P&L of the last stored day before `before_date`."""
        params = {"strategy_id": strategy_id, "before_date": before_date.isoformat()}
        return await self._read(
            Call(
                "getPreviousCumulativePnl",
                "GET",
                "/analytics/pnl/previous-cumulative",
                PreviousCumulative,
                params=params,
                cache_key=(strategy_id, before_date),
            )
        )
