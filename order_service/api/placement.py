"""Placing an order, step by step: rate limit, idempotency, strategy, anomalies, the book, P&L sync.

Redis holds the limits, the idempotency keys and the anomaly windows: without it an order
cannot be placed safely, so a Redis failure refuses the order (503) rather than risk a
duplicate; the service recovers by itself when Redis answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from order_service.clients import ClientHub
from order_service.clients.models import PnlSync
from order_service.errors import ServiceError, ServiceNotFoundError
from order_service.orders.book import OrderBook
from order_service.orders.models import PlaceOrderRequest
from order_service.security.audit import audit_event
from order_service.services.idempotency import IdempotencyStore, fingerprint
from order_service.services.order_anomaly_detector import OrderAnomalyDetector, OrderEvent, Verdict
from order_service.services.rate_limiter import RateLimiter
from order_service.settings import Settings

log = logging.getLogger("order_service.orders")


class RateLimited(Exception):
    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"too many order requests for this {scope}")
        self.scope = scope
        self.retry_after = retry_after


class StrategyRefused(Exception):
    """The order names a strategy that does not exist or does not accept orders."""


class OrderRefused(Exception):
    """The reject policy refuses an order with a CRITICAL anomaly."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("order refused by the anomaly policy")
        self.verdict = verdict


@dataclass
class Placement:
    settings: Settings
    book: OrderBook
    clock: Callable[[], datetime]
    registry: CollectorRegistry
    hub: ClientHub | None = None
    limiter: RateLimiter | None = None
    idempotency: IdempotencyStore | None = None
    detector: OrderAnomalyDetector | None = None

    def __post_init__(self) -> None:
        self.orders_total = Counter(
            "order_service_orders_total", "Orders placed, by status.", ["status"], registry=self.registry
        )

    async def place(
        self, account: str, identity: str, request: PlaceOrderRequest, raw_body: bytes, key: str | None
    ) -> tuple[int, dict[str, Any]]:
        if self.limiter is not None:
            decision = await self.limiter.hit(account, identity)
            if not decision.allowed:
                raise RateLimited(decision.scope or "account", decision.retry_after)
        print_ = fingerprint(raw_body)
        if key is not None and self.idempotency is not None:
            stored = await self.idempotency.begin(account, key, print_)
            if stored is not None:
                return stored.status, stored.body
        try:
            order = await self._place(account, identity, request)
        except BaseException:
            if key is not None and self.idempotency is not None:
                await self.idempotency.abandon(account, key)  # nothing was placed: the key may be used again
            raise
        if key is not None and self.idempotency is not None:
            await self.idempotency.finish(account, key, print_, 201, order)
        return 201, order

    async def _place(self, account: str, identity: str, request: PlaceOrderRequest) -> dict[str, Any]:
        if request.strategy_id is not None and self.hub is not None:
            await self._check_strategy(request.strategy_id)
        verdict = await self._check_anomalies(account, identity, request)
        order = self.book.place(account, request, identity)
        if verdict is not None:
            order["anomalies"] = [a.as_dict() for a in verdict.anomalies]
        self.orders_total.labels(order["status"]).inc()
        audit_event(
            "order_placed", order_id=order["order_id"], account=account, identity=identity, status=order["status"]
        )
        if order["status"] == "COMPLETE" and request.strategy_id is not None and self.hub is not None:
            await self._sync_pnl(account, request.strategy_id)
        return order

    async def _check_strategy(self, strategy_id: int) -> None:
        assert self.hub is not None
        try:
            validation = await self.hub.strategy.get_strategy_validation(strategy_id)
        except ServiceNotFoundError as exc:
            raise StrategyRefused(f"strategy {strategy_id} does not exist") from exc
        if not validation.valid:
            raise StrategyRefused(f"strategy {strategy_id} does not accept orders: {validation.reason}")

    async def _check_anomalies(self, account: str, identity: str, request: PlaceOrderRequest) -> Verdict | None:
        if self.detector is None:
            return None
        limit_price = request.price if request.order_type in ("LIMIT", "SL") else None
        verdict = await self.detector.check_order(
            OrderEvent(
                account=account,
                exchange=request.exchange,
                tradingsymbol=request.tradingsymbol,
                quantity=request.quantity,
                price=limit_price,
                at=self.clock(),
                after_market=request.variety == "amo",
            )
        )
        if verdict.critical and self.settings.anomaly.policy == "reject_critical":
            audit_event(
                "order_rejected", account=account, identity=identity, anomalies=[a.as_dict() for a in verdict.anomalies]
            )
            raise OrderRefused(verdict)
        return verdict

    async def _sync_pnl(self, account: str, strategy_id: int) -> None:
        """After a fill, the strategy's P&L as the book sees it; kept in the outbox if the owner is away."""
        assert self.hub is not None
        positions = self.book.positions(account)
        total = sum((Decimal(p["pnl"]) for p in positions), Decimal(0))
        snapshot = PnlSync(
            as_of=self.clock(),
            realized_pnl=Decimal(0),
            unrealized_pnl=total,
            total_pnl=total,
            open_positions=sum(1 for p in positions if p["quantity"]),
        )
        try:
            await self.hub.strategy.sync_strategy_pnl(strategy_id, snapshot)
        except ServiceError as exc:  # refused (e.g. 409 stale): the order stands, the refusal is logged
            log.warning("PNL_SYNC_REFUSED strategy %s: %s", strategy_id, exc)
