"""The order service's FastAPI app: the order endpoints of `contracts/order-service.yaml`.

Every order endpoint needs a signed request from a service allowed the operation, a user
token, and a trading account the user may act for (`order_service.security`). Errors use
the contracts' JSON body; a security failure is audited with its exact reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter

from order_service.orders.book import InvalidOrder, OrderBook, OrderFinal, OrderNotFound, SimulatedBroker
from order_service.orders.models import ModifyOrderRequest, OrderStatus, PlaceOrderRequest
from order_service.security.audit import audit_event
from order_service.security.credentials import CredentialStore
from order_service.security.dependencies import (
    SecurityContext,
    get_trading_account_id,
    security_error_handler,
    validate_order_cancellation,
    validate_order_listing,
    validate_order_modification,
    validate_order_placement,
    validate_positions_access,
)
from order_service.security.errors import SecurityError
from order_service.security.identity import CriticalServiceAuth
from order_service.security.users import UserTokens
from order_service.security.verifying import InMemoryReplayStore, RedisReplayStore, ReplayStore, RequestVerifier
from order_service.services.order_anomaly_detector import IST, Calendar, OrderAnomalyDetector, OrderEvent, Verdict
from order_service.services.redis_usage_monitor import RedisUsageMonitor
from order_service.settings import Settings

ORDER_ID = Annotated[str, Path(pattern=r"^[0-9]{15}$")]
LAST_PRICES = {"INFY": Decimal("1532.10"), "TCS": Decimal("3875"), "RELIANCE": Decimal("2950.55")}


class OrderRefused(Exception):
    """The reject policy refuses an order with a CRITICAL anomaly."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("order refused by the anomaly policy")
        self.verdict = verdict


def _error(status: int, error: str, message: str, violations: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if violations:
        body["violations"] = violations
    return JSONResponse(body, status_code=status)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    violations = []
    for err in exc.errors():
        location = str(err["loc"][0]) if err["loc"] else "body"
        violations.append(
            {
                "location": location if location in ("path", "query", "header", "body") else "body",
                "field": ".".join(str(p) for p in err["loc"][1:]),
                "reason": str(err["msg"]),
            }
        )
    return _error(422, "validation_failed", "the request does not match the contract", violations)


def create_app(
    settings: Settings,
    *,
    credentials: CredentialStore | None = None,
    redis: aioredis.Redis | None = None,
    replay: ReplayStore | None = None,
    registry: CollectorRegistry | None = None,
    book: OrderBook | None = None,
    calendar: Calendar | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(IST),
) -> FastAPI:
    """The order service; `credentials` default to `settings.security.credentials_file`."""
    security = settings.security
    if credentials is None:
        if security.credentials_file is None:
            raise ValueError("the order service needs service credentials (security.credentials_file)")
        credentials = CredentialStore.from_file(security.credentials_file)
    if replay is None:
        replay = RedisReplayStore(redis) if redis is not None else InMemoryReplayStore()
    registry = registry or CollectorRegistry()

    app = FastAPI(title="Order service", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.security = SecurityContext(
        verifier=RequestVerifier(credentials, replay, tolerance=security.timestamp_tolerance),
        services=CriticalServiceAuth(security.authorized_services),
        users=UserTokens(security),
        failures=Counter(
            "order_service_auth_failures_total", "Refused requests by reason.", ["reason"], registry=registry
        ),
    )
    app.state.registry = registry
    orders = book or OrderBook(SimulatedBroker(LAST_PRICES))
    monitor = RedisUsageMonitor(redis, settings.redis_monitor, registry=registry) if redis is not None else None
    app.state.redis_monitor = monitor
    detector = (
        OrderAnomalyDetector(redis, settings.anomaly, calendar=calendar, registry=registry)
        if redis is not None
        else None
    )
    app.add_exception_handler(SecurityError, security_error_handler)
    app.add_exception_handler(RequestValidationError, _invalid)

    @app.exception_handler(OrderNotFound)
    async def _not_found(_: Request, exc: OrderNotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(OrderRefused)
    async def _refused(_: Request, exc: OrderRefused) -> JSONResponse:
        reasons = [
            {
                "location": "body",
                "field": "",
                "reason": f"{a.type.value} {a.severity.value}: {a.observed} over {a.threshold}",
            }
            for a in exc.verdict.anomalies
        ]
        return _error(422, "validation_failed", "the order was refused: a CRITICAL anomaly", reasons)

    @app.exception_handler(InvalidOrder)
    async def _invalid_order(_: Request, exc: InvalidOrder) -> JSONResponse:
        return _error(
            422,
            "validation_failed",
            "the request does not match the contract",
            [{"location": "body", "field": exc.field, "reason": str(exc)}],
        )

    @app.exception_handler(OrderFinal)
    async def _final(_: Request, exc: OrderFinal) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.get("/health/redis")
    async def redis_health() -> JSONResponse:
        if monitor is None:
            return _error(503, "unavailable", "this order service runs without Redis")
        status, body = await monitor.health_report()
        return JSONResponse(body, status_code=status)

    @app.post("/orders", status_code=201)
    async def place_order(
        order_request: PlaceOrderRequest,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        service_identity: Annotated[str, Depends(validate_order_placement)],
    ) -> dict[str, Any]:
        verdict = None
        if detector is not None:
            limit_price = order_request.price if order_request.order_type in ("LIMIT", "SL") else None
            verdict = await detector.check_order(
                OrderEvent(
                    account=trading_account_id,
                    exchange=order_request.exchange,
                    tradingsymbol=order_request.tradingsymbol,
                    quantity=order_request.quantity,
                    price=limit_price,
                    at=clock(),
                    after_market=order_request.variety == "amo",
                )
            )
            if verdict.critical and settings.anomaly.policy == "reject_critical":
                audit_event(
                    "order_rejected",
                    account=trading_account_id,
                    identity=service_identity,
                    anomalies=[a.as_dict() for a in verdict.anomalies],
                )
                raise OrderRefused(verdict)
        order = orders.place(trading_account_id, order_request, service_identity)
        if verdict is not None:
            order["anomalies"] = [a.as_dict() for a in verdict.anomalies]
        audit_event(
            "order_placed",
            order_id=order["order_id"],
            account=trading_account_id,
            identity=service_identity,
            status=order["status"],
        )
        return order

    @app.get("/orders")
    async def list_orders(
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_order_listing)],
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> dict[str, Any]:
        items, next_cursor = orders.page(trading_account_id, status, limit, cursor)
        return {"items": items, "next_cursor": next_cursor}

    @app.get("/orders/{order_id}")
    async def get_order(
        order_id: ORDER_ID,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_order_listing)],
    ) -> dict[str, Any]:
        return orders.get(trading_account_id, order_id)

    @app.patch("/orders/{order_id}")
    async def modify_order(
        order_id: ORDER_ID,
        change: ModifyOrderRequest,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        service_identity: Annotated[str, Depends(validate_order_modification)],
    ) -> dict[str, Any]:
        order = orders.modify(trading_account_id, order_id, change)
        audit_event("order_modified", order_id=order_id, account=trading_account_id, identity=service_identity)
        return order

    @app.delete("/orders/{order_id}")
    async def cancel_order(
        order_id: ORDER_ID,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        service_identity: Annotated[str, Depends(validate_order_cancellation)],
    ) -> dict[str, Any]:
        order = orders.cancel(trading_account_id, order_id, service_identity)
        if detector is not None:
            await detector.check_cancellation(trading_account_id, clock(), order_id)
        audit_event("order_cancelled", order_id=order_id, account=trading_account_id, identity=service_identity)
        return order

    @app.get("/positions")
    async def get_positions(
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_positions_access)],
    ) -> dict[str, Any]:
        rows = orders.positions(trading_account_id)
        return {"net": rows, "day": rows}

    return app
