"""The order desk: placing, changing and cancelling orders, step by step.

Placing: rate limit (Redis), the Idempotency-Key's claim (the store), the account's
suspension (the store; see `order_service.orders.suspensions`), strategy validation, the
anomaly check (Redis; a CRITICAL anomaly counts towards a suspension), then one commit of
the order, its fill, its key's answer and its follow-up writes (the store). Redis holds the
limits and the anomaly windows: while it is away no order is placed (503) rather than risk
an unchecked one, and nothing is committed, so the key stays free for the retry. Once the
commit is done nothing else can fail the answer: the follow-ups (the strategy's P&L after a
fill) wait in the store's outbox, and the relay (`order_service.orders.relay`) delivers
them; the answer never waits on an owner.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter

from order_service.clients import ClientHub
from order_service.clients.models import PnlSync
from order_service.clients.strategy import sync_pnl_call
from order_service.errors import ServiceNotFoundError, StoreError
from order_service.orders import book
from order_service.orders.book import Broker, Position
from order_service.orders.models import ModifyOrderRequest, PlaceOrderRequest
from order_service.orders.store import Claim, FollowUp, OrderStore, Stored
from order_service.orders.suspensions import AccountSuspended, Suspension, SuspensionPolicy, Suspensions
from order_service.security.audit import audit_event
from order_service.services.order_anomaly_detector import OrderAnomalyDetector, OrderEvent, Verdict
from order_service.services.rate_limiter import RateLimiter
from order_service.settings import Settings
from order_service.tracing import REDIS, current_traceparent, set_attributes, span

log = logging.getLogger("order_service.orders")


def fingerprint(raw_body: bytes) -> str:
    """What tells two requests under one Idempotency-Key apart: their bodies' digest."""
    return hashlib.sha256(raw_body).hexdigest()


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
class OrderDesk:
    settings: Settings
    store: OrderStore
    broker: Broker
    clock: Callable[[], datetime]
    registry: CollectorRegistry
    hub: ClientHub | None = None
    limiter: RateLimiter | None = None
    detector: OrderAnomalyDetector | None = None
    suspensions: Suspensions | None = None
    on_follow_up: Callable[[], None] = field(default=lambda: None)  # wakes the relay

    def __post_init__(self) -> None:
        self.orders_total = Counter(
            "order_service_orders_total", "Orders placed, by status.", ["status"], registry=self.registry
        )
        self.suspensions_total = Counter(
            "order_service_account_suspensions_total",
            "Automatic account suspensions and their lifts, by action.",
            ["action"],
            registry=self.registry,
        )
        self.policy = SuspensionPolicy.from_settings(self.settings.suspension)
        self._db = {"db.system.name": "postgresql" if self.store.durable else "memory"}

    async def place(
        self, account: str, identity: str, request: PlaceOrderRequest, raw_body: bytes, key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Place an order once per key; the answer and its status (201, or the key's first answer)."""
        if self.limiter is not None:
            with span("redis rate_limit", REDIS):
                decision = await self.limiter.hit(account, identity)
            if not decision.allowed:
                raise RateLimited(decision.scope or "account", decision.retry_after)
        claim: Claim | None = None
        if key is not None:
            with span("store claim_key", self._db):
                outcome = await self.store.claim(account, key, fingerprint(raw_body))
            if isinstance(outcome, Stored):
                return outcome.status, outcome.body
            claim = outcome
        try:
            answer = await self._place(account, identity, request, claim)
        except BaseException:
            if claim is not None:
                await self._release(claim)
            raise
        return answer.status, answer.body

    async def _release(self, claim: Claim) -> None:
        """Nothing was placed: free the key for the retry (if the store is away too, the claim expires soon)."""
        try:
            with span("store release_key", self._db):
                await self.store.release(claim)
        except StoreError as exc:
            log.warning("IDEMPOTENCY_CLAIM_KEPT %s: it expires by itself (%s)", claim.key, exc)

    async def _place(self, account: str, identity: str, request: PlaceOrderRequest, claim: Claim | None) -> Stored:
        await self._refuse_if_suspended(account)
        if request.strategy_id is not None and self.hub is not None:
            await self._check_strategy(request.strategy_id)
        verdict = await self._check_anomalies(account, identity, request)
        at = self.clock()
        order = book.new_order(self.broker, account, request, identity, at)
        if verdict is not None:
            order["anomalies"] = [a.as_dict() for a in verdict.anomalies]
        with span("store place_order", self._db):
            answer = await self.store.place(order, book.id_prefix(at), claim, self._follow_ups)
            set_attributes({"order.id": answer.body["order_id"]})
        placed = answer.body
        if answer.replayed:  # an earlier request under the key committed first: its order is the answer
            return answer
        self.orders_total.labels(placed["status"]).inc()
        if verdict is not None and self.detector is not None:
            self.detector.report(account, placed["order_id"], verdict)
            if verdict.critical:
                await self._count_critical(account, identity, placed["order_id"])
        keyed = {"idempotency_key": claim.key} if claim is not None else {}
        audit_event(
            "order_placed",
            order_id=placed["order_id"],
            account=account,
            identity=identity,
            status=placed["status"],
            **keyed,
        )
        if placed["filled_quantity"] and placed.get("strategy_id") is not None:
            self.on_follow_up()  # a P&L sync waits in the outbox: deliver it soon
        return answer

    async def modify(self, account: str, identity: str, order_id: str, change: ModifyOrderRequest) -> dict[str, Any]:
        """Change one order of `account` (its fill, if the change fills it, syncs its strategy's P&L)."""
        await self._refuse_if_suspended(account)
        with span("store modify_order", {**self._db, "order.id": order_id}):
            order = await self.store.change(
                account, order_id, lambda o: book.modified(self.broker, o, change, self.clock()), self._follow_ups
            )
        audit_event("order_modified", order_id=order_id, account=account, identity=identity, status=order["status"])
        if order["filled_quantity"] and order.get("strategy_id") is not None:
            self.on_follow_up()
        return order

    async def cancel(self, account: str, identity: str, order_id: str) -> dict[str, Any]:
        """Cancel one order of `account`; cancellations feed the anomaly detector's rate rule."""
        with span("store cancel_order", {**self._db, "order.id": order_id}):
            order = await self.store.change(
                account, order_id, lambda o: book.cancelled(o, identity, self.clock()), None
            )
        audit_event("order_cancelled", order_id=order_id, account=account, identity=identity)
        if self.detector is not None:
            try:
                with span("anomaly cancellation"):
                    await self.detector.check_cancellation(account, self.clock(), order_id)
            except (aioredis.RedisError, OSError) as exc:  # the order is cancelled: a missed count must not undo that
                log.warning("ANOMALY_CANCELLATION_UNCOUNTED order %s of %s: %s", order_id, account, exc)
        return order

    async def suspension(self, account: str) -> Suspension | None:
        """The account's suspension in force, if any."""
        if self.suspensions is None:
            return None
        return await self.suspensions.current(account, self.clock())

    async def lift(self, account: str, identity: str) -> Suspension | None:
        """Lift the account's suspension (None when none was in force)."""
        if self.suspensions is None:
            return None
        lifted = await self.suspensions.lift(account, self.clock(), identity)
        if lifted is not None:
            self.suspensions_total.labels("lifted").inc()
            audit_event("suspension_lifted", account=account, identity=identity, suspended_at=lifted.since.isoformat())
        return lifted

    async def _refuse_if_suspended(self, account: str) -> None:
        """With the policy off, suspensions are neither made nor enforced (and cost no query)."""
        if self.policy.enabled:
            with span("store suspension", self._db):
                current = await self.suspension(account)
            if current is not None:
                raise AccountSuspended(current)

    async def _count_critical(self, account: str, identity: str, order_id: str | None) -> None:
        """One CRITICAL anomaly towards the policy's limit; suspends the account when it reaches it."""
        if self.suspensions is None or not self.policy.enabled:
            return
        try:
            with span("store count_critical", self._db):
                started = await self.suspensions.critical_anomaly(account, self.clock(), order_id, self.policy)
        except StoreError as exc:  # the order's fate is decided: a missed count must not change it
            log.warning("SUSPENSION_UNCOUNTED CRITICAL anomaly of %s (order %s): %s", account, order_id, exc)
            return
        if started is not None:
            self.suspensions_total.labels("suspended").inc()
            audit_event(
                "account_suspended",
                account=account,
                identity=identity,
                order_id=order_id,
                critical_anomalies=started.critical_count,
                window_seconds=self.policy.window.total_seconds(),
                suspended_until=started.until.isoformat() if started.until else None,
            )
            log.warning("ACCOUNT_SUSPENDED %s after %d CRITICAL anomalies", account, started.critical_count)

    async def positions(self, account: str) -> list[dict[str, Any]]:
        """The account's positions, valued at the broker's last prices."""
        return book.position_rows(await self.store.positions(account), self.broker)

    def _follow_ups(self, order: Mapping[str, Any], positions: Sequence[Position]) -> list[FollowUp]:
        """After a fill under a strategy: the strategy's P&L as the book now sees it, for the outbox."""
        strategy_id = order.get("strategy_id")
        if strategy_id is None or self.hub is None:
            return []
        rows = book.position_rows(positions, self.broker)
        total = sum((Decimal(row["pnl"]) for row in rows), Decimal(0))
        snapshot = PnlSync(
            as_of=self.clock(),
            realized_pnl=Decimal(0),
            unrealized_pnl=total,
            total_pnl=total,
            open_positions=sum(1 for row in rows if row["quantity"]),
        )
        # The key names the fill: a replay after a lost answer is the same write, applied once.
        key = f"sync-pnl-{order['order_id']}-{order['filled_quantity']}"
        call = sync_pnl_call(strategy_id, snapshot, key)
        service = self.hub.strategy.service
        partition = f"strategy:{strategy_id}"
        # the entry keeps the request's trace: its delivery, later and elsewhere, joins it
        traced = current_traceparent()
        return [FollowUp(service, call.operation, call.method, call.path, call.body, key, partition, traced)]

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
        with span("anomaly check"):
            verdict = await self.detector.check_order(
                OrderEvent(
                    account=account,
                    exchange=request.exchange,
                    tradingsymbol=request.tradingsymbol,
                    quantity=request.quantity,
                    price=limit_price,
                    at=self.clock(),
                    after_market=request.variety == "amo",
                    side=request.transaction_type,
                ),
                report=False,  # reported with the order id once there is one
            )
            set_attributes({"anomaly.count": len(verdict.anomalies)})
        if verdict.critical and self.settings.anomaly.policy == "reject_critical":
            self.detector.report(account, None, verdict)
            audit_event(
                "order_rejected", account=account, identity=identity, anomalies=[a.as_dict() for a in verdict.anomalies]
            )
            await self._count_critical(account, identity, None)
            raise OrderRefused(verdict)
        return verdict
