"""The order service's FastAPI app: the order endpoints of `contracts/order-service.yaml`.

Every order endpoint needs a signed request from a service allowed the operation, a user
token, and a trading account the user may act for (`order_service.security`). Errors use
the contracts' JSON body; a security failure is audited with its exact reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry, Counter
from starlette.exceptions import HTTPException as StarletteHTTPException

from order_service.api.health import build_health_router
from order_service.api.placement import OrderRefused, Placement, RateLimited, StrategyRefused
from order_service.clients import ClientHub
from order_service.errors import ServiceUnavailableError
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
from order_service.services.idempotency import IdempotencyStore, KeyInProgress, KeyReused
from order_service.services.order_anomaly_detector import IST, Calendar, OrderAnomalyDetector
from order_service.services.rate_limiter import RateLimiter
from order_service.services.redis_usage_monitor import RedisUsageMonitor
from order_service.settings import Settings

log = logging.getLogger("order_service.api")
ORDER_ID = Annotated[str, Path(pattern=r"^[0-9]{15}$")]
ACCOUNT_ID_PATTERN = r"^[A-Z]{2}[0-9]{4,6}$"
NONCE_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
LAST_PRICES = {"INFY": Decimal("1532.10"), "TCS": Decimal("3875"), "RELIANCE": Decimal("2950.55")}


class FastJSONResponse(JSONResponse):
    """JSON by orjson: the order answers are plain dicts of str, int and None, and json.dumps showed in profiles."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RequestCounter:
    """Counts every HTTP request by method, route template and status (a plain ASGI layer: no per-request task)."""

    def __init__(self, app: Any, counter: Counter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.counter.labels(scope["method"], route, status).inc()


def _error(
    status: int,
    error: str,
    message: str,
    violations: list[dict[str, str]] | None = None,
    *,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if violations:
        body["violations"] = violations
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return FastJSONResponse(body, status_code=status, headers=headers)


def _violation(location: str, field: str, reason: str) -> JSONResponse:
    """A 422 for one rule the contract's schema cannot express."""
    return _error(
        422,
        "validation_failed",
        "the request does not match the contract",
        [{"location": location, "field": field, "reason": reason}],
    )


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


async def contract_headers(
    _account: Annotated[str | None, Header(alias="X-Trading-Account-Id", pattern=ACCOUNT_ID_PATTERN)] = None,
    _nonce: Annotated[str | None, Header(alias="X-Request-Nonce", pattern=NONCE_PATTERN)] = None,
) -> None:
    """The form the contract gives these headers (a missing account header is the security check's 401)."""


ORDER_HEADERS = [Depends(contract_headers)]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors in the contract's error body; a 405 lists every method the path serves."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = sorted(
            {
                method
                for route in request.app.routes
                if isinstance(route, APIRoute) and route.path_regex.fullmatch(request.url.path)
                for method in route.methods or ()
            }
        )
        return _error(
            405, "method_not_allowed", f"{request.method} is not served here", headers={"Allow": ", ".join(allowed)}
        )
    code = {404: "not_found", 413: "payload_too_large", 415: "unsupported_media_type"}.get(
        exc.status_code, "bad_request"
    )
    return _error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


def create_app(
    settings: Settings,
    *,
    credentials: CredentialStore | None = None,
    redis: aioredis.Redis | None = None,
    hub: ClientHub | None = None,
    replay: ReplayStore | None = None,
    registry: CollectorRegistry | None = None,
    book: OrderBook | None = None,
    calendar: Calendar | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(IST),
    wall: Callable[[], float] = time.time,
) -> FastAPI:
    """The order service; `credentials` default to `settings.security.credentials_file`.

    With `redis`: replay protection, rate limits, idempotency keys, anomaly windows and the
    Redis monitor. With `hub`: strategy validation, P&L sync after fills, the calendar for
    the off-hours rule, discovery and breaker health. Metrics go to the hub's registry.
    """
    security = settings.security
    if credentials is None:
        if security.credentials_file is None:
            raise ValueError("the order service needs service credentials (security.credentials_file)")
        credentials = CredentialStore.from_file(security.credentials_file)
    if replay is None:
        replay = RedisReplayStore(redis) if redis is not None else InMemoryReplayStore()
    registry = hub.metrics.registry if hub is not None else (registry or CollectorRegistry())
    calendar = calendar or (hub.calendar if hub is not None else None)

    app = FastAPI(
        title="Order service",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=FastJSONResponse,
    )
    app.state.security = SecurityContext(
        verifier=RequestVerifier(credentials, replay, tolerance=security.timestamp_tolerance),
        services=CriticalServiceAuth(security.authorized_services),
        users=UserTokens(security),
        failures=Counter(
            "order_service_auth_failures_total", "Refused requests by reason.", ["reason"], registry=registry
        ),
    )
    app.state.registry = registry
    orders = book or OrderBook(SimulatedBroker(LAST_PRICES), clock=clock)  # order times on the exchange clock
    monitor = RedisUsageMonitor(redis, settings.redis_monitor, registry=registry) if redis is not None else None
    app.state.redis_monitor = monitor
    detector = (
        OrderAnomalyDetector(redis, settings.anomaly, calendar=calendar, registry=registry)
        if redis is not None
        else None
    )
    limiter = RateLimiter(redis, settings.rate_limit, registry=registry, clock=wall) if redis is not None else None
    placement = Placement(
        settings=settings,
        book=orders,
        clock=clock,
        registry=registry,
        hub=hub,
        limiter=limiter,
        idempotency=IdempotencyStore(redis, ttl_seconds=settings.idempotency_ttl) if redis is not None else None,
        detector=detector,
    )
    requests_total = Counter(
        "order_service_http_requests_total",
        "HTTP requests by method, route and status.",
        ["method", "route", "status"],
        registry=registry,
    )

    app.add_middleware(RequestCounter, counter=requests_total)

    app.include_router(build_health_router(redis=redis, hub=hub, limiter=limiter, monitor=monitor, registry=registry))
    app.add_exception_handler(SecurityError, security_error_handler)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)

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

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        return _error(429, "rate_limited", str(exc), retry_after=exc.retry_after)

    @app.exception_handler(KeyInProgress)
    async def _in_progress(_: Request, exc: KeyInProgress) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(KeyReused)
    async def _reused(_: Request, exc: KeyReused) -> JSONResponse:
        return _violation("header", "Idempotency-Key", str(exc))

    @app.exception_handler(StrategyRefused)
    async def _strategy(_: Request, exc: StrategyRefused) -> JSONResponse:
        return _violation("body", "strategy_id", str(exc))

    @app.exception_handler(aioredis.RedisError)
    async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("REDIS_UNAVAILABLE: order operations refused: %s", exc)
        message = "orders are refused while Redis is unavailable (duplicates and limits cannot be guaranteed)"
        return _error(503, "unavailable", message, retry_after=1)

    @app.exception_handler(ServiceUnavailableError)
    async def _owner_down(_: Request, exc: Exception) -> JSONResponse:
        return _error(503, "unavailable", f"a service the order depends on is unavailable: {exc}", retry_after=1)

    @app.exception_handler(InvalidOrder)
    async def _invalid_order(_: Request, exc: InvalidOrder) -> JSONResponse:
        return _violation("body", exc.field, str(exc))

    @app.exception_handler(OrderFinal)
    async def _final(_: Request, exc: OrderFinal) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.post("/orders", status_code=201, dependencies=ORDER_HEADERS)
    async def place_order(
        request: Request,
        order_request: PlaceOrderRequest,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        service_identity: Annotated[str, Depends(validate_order_placement)],
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
        ] = None,
    ) -> JSONResponse:
        status, order = await placement.place(
            trading_account_id, service_identity, order_request, await request.body(), idempotency_key
        )
        return FastJSONResponse(order, status_code=status)

    @app.get("/orders", dependencies=ORDER_HEADERS)
    async def list_orders(
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_order_listing)],
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> dict[str, Any]:
        items, next_cursor = orders.page(trading_account_id, status, limit, cursor)
        return {"items": items, "next_cursor": next_cursor}

    @app.get("/orders/{order_id}", dependencies=ORDER_HEADERS)
    async def get_order(
        order_id: ORDER_ID,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_order_listing)],
    ) -> dict[str, Any]:
        return orders.get(trading_account_id, order_id)

    @app.patch("/orders/{order_id}", dependencies=ORDER_HEADERS)
    async def modify_order(
        order_id: ORDER_ID,
        change: ModifyOrderRequest,
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        service_identity: Annotated[str, Depends(validate_order_modification)],
    ) -> dict[str, Any]:
        order = orders.modify(trading_account_id, order_id, change)
        audit_event("order_modified", order_id=order_id, account=trading_account_id, identity=service_identity)
        return order

    @app.delete("/orders/{order_id}", dependencies=ORDER_HEADERS)
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

    @app.get("/positions", dependencies=ORDER_HEADERS)
    async def get_positions(
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        _service: Annotated[str, Depends(validate_positions_access)],
    ) -> dict[str, Any]:
        rows = orders.positions(trading_account_id)
        return {"net": rows, "day": rows}

    return app
