"""Client of the strategy service (algo-engine): replaces reads and writes of public.strategy."""

from __future__ import annotations

from order_service.clients.base import Call, ServiceClient, new_idempotency_key
from order_service.clients.models import PnlSnapshot, PnlSync, Portfolio, Strategy, StrategyValidation
from order_service.fallbacks.outbox import Deferred


class StrategyServiceClient(ServiceClient):
    """The strategy service (owner algo-engine): validation, P&L snapshots, default strategies, portfolios."""

    service = "strategy-service"

    async def get_strategy_validation(self, strategy_id: int) -> StrategyValidation:
        """The full answer of `GET /strategies/{id}/validate` (stale-marked when served from memory)."""
        return await self._read(
            Call(
                "validateStrategy",
                "GET",
                f"/strategies/{strategy_id}/validate",
                StrategyValidation,
                cache_key=strategy_id,
            )
        )

    async def validate_strategy(self, strategy_id: int) -> bool:
        """Whether orders may be placed under the strategy (raises ServiceNotFoundError when it does not exist)."""
        return (await self.get_strategy_validation(strategy_id)).valid

    async def sync_strategy_pnl(self, strategy_id: int, pnl_data: PnlSync) -> PnlSnapshot | Deferred:
        """Store the strategy's P&L; kept in the outbox while the service is away."""
        return await self._write(sync_pnl_call(strategy_id, pnl_data, new_idempotency_key("sync-pnl")))

    async def get_default_strategy(self, account_id: str) -> Strategy:
        """An account's default strategy."""
        return await self._read(
            Call(
                "getDefaultStrategy",
                "GET",
                f"/strategies/default/{account_id}",
                Strategy,
                cache_key=account_id,
            )
        )

    async def create_default_strategy(self, account_id: str, name: str | None = None) -> Strategy:
        """Get or create the account's default strategy (safe to repeat)."""
        body = {"account_id": account_id} | ({"name": name} if name else {})
        return await self._perform(
            Call(
                "createDefaultStrategy",
                "POST",
                "/strategies/default",
                Strategy,
                success=frozenset({200, 201}),
                body=body,
            )
        )

    async def get_strategy_portfolio(self, strategy_id: int) -> Portfolio:
        """A strategy's positions and its last P&L snapshot."""
        return await self._read(
            Call(
                "getStrategyPortfolio",
                "GET",
                f"/strategies/{strategy_id}/portfolio",
                Portfolio,
                cache_key=strategy_id,
            )
        )


def sync_pnl_call(strategy_id: int, pnl_data: PnlSync, idempotency_key: str) -> Call[PnlSnapshot]:
    """The `syncStrategyPnl` call, to perform now or to keep in an outbox (the order service's follow-ups)."""
    return Call(
        "syncStrategyPnl",
        "POST",
        f"/strategies/{strategy_id}/sync-pnl",
        PnlSnapshot,
        body=pnl_data.model_dump(mode="json", exclude_unset=False),
        idempotency_key=idempotency_key,
    )
