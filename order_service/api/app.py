"""The order service's FastAPI app: its components, wired once, behind the order and health routes.

`create_app` builds the components (`Components`: the security context, the book, the
Redis-side services, placement) from settings, then puts the order router
(`order_service.api.orders`), the health router and the error answers
(`order_service.api.errors`) on one app with a request counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, Counter

from order_service import tracing
from order_service.api.desk import OrderDesk
from order_service.api.errors import FastJSONResponse, install_error_handlers
from order_service.api.health import build_health_router
from order_service.api.limits import RequestLimits
from order_service.api.orders import build_orders_router
from order_service.api.suspensions import build_suspensions_router
from order_service.clients import ClientHub
from order_service.orders.book import Broker, SimulatedBroker
from order_service.orders.relay import FollowUpRelay
from order_service.orders.store import MemoryOrderStore, OrderStore
from order_service.security.credentials import CredentialStore
from order_service.security.dependencies import SecurityContext
from order_service.security.identity import CriticalServiceAuth
from order_service.security.users import UserTokens
from order_service.security.verifying import InMemoryReplayStore, RedisReplayStore, ReplayStore, RequestVerifier
from order_service.services.order_anomaly_detector import IST, Calendar, OrderAnomalyDetector
from order_service.services.rate_limiter import RateLimiter
from order_service.services.redis_usage_monitor import RedisUsageMonitor
from order_service.settings import Settings

LAST_PRICES = {"INFY": Decimal("1532.10"), "TCS": Decimal("3875"), "RELIANCE": Decimal("2950.55")}


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


class TracedRequests:
    """A server span per HTTP request while tracing is on, continuing the caller's `traceparent`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _TRACE_HEADERS}
        method = scope["method"]
        attributes = {"http.request.method": method, "url.path": scope["path"]}
        with tracing.span(method, attributes, kind=tracing.SERVER, parent=tracing.extract(carrier)) as span:

            async def capture(message: Any) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            try:
                await self.app(scope, receive, capture)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:  # the route template, not the path: span names stay few
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})


@dataclass(frozen=True)
class Components:
    """Everything the routes use, built once per app."""

    security: SecurityContext
    replay: ReplayStore
    registry: CollectorRegistry
    store: OrderStore
    desk: OrderDesk
    relay: FollowUpRelay | None
    monitor: RedisUsageMonitor | None
    detector: OrderAnomalyDetector | None
    limiter: RateLimiter | None


def build_components(
    settings: Settings,
    *,
    credentials: CredentialStore | None,
    redis: aioredis.Redis | None,
    hub: ClientHub | None,
    replay: ReplayStore | None,
    registry: CollectorRegistry | None,
    store: OrderStore | None,
    broker: Broker | None,
    calendar: Calendar | None,
    clock: Callable[[], datetime],
    wall: Callable[[], float],
) -> Components:
    """The service's parts from settings; the Redis-side ones only when `redis` is given, the relay with `hub`."""
    security = settings.security
    if credentials is None:
        if security.credentials_file is None:
            raise ValueError("the order service needs service credentials (security.credentials_file)")
        credentials = CredentialStore.from_file(security.credentials_file)
    if replay is None:
        replay = RedisReplayStore(redis) if redis is not None else InMemoryReplayStore()
    registry = hub.metrics.registry if hub is not None else (registry or CollectorRegistry())
    calendar = calendar or (hub.calendar if hub is not None else None)
    context = SecurityContext(
        verifier=RequestVerifier(
            credentials, replay, tolerance=security.timestamp_tolerance, accept_v1=security.accept_v1
        ),
        services=CriticalServiceAuth(security.authorized_services),
        users=UserTokens(security),
        failures=Counter(
            "order_service_auth_failures_total", "Refused requests by reason.", ["reason"], registry=registry
        ),
        suspension_managers=frozenset(settings.suspension.managed_by),
        certificate_bound=settings.server.tls_client_ca is not None,
    )
    if store is None:
        store = MemoryOrderStore(
            claim_seconds=settings.idempotency_claim_seconds, keep_seconds=settings.idempotency_ttl
        )
    detector: OrderAnomalyDetector | None = None
    limiter: RateLimiter | None = None
    monitor: RedisUsageMonitor | None = None
    if redis is not None:  # the Redis-side services: without Redis, none of them
        detector = OrderAnomalyDetector(redis, settings.anomaly, calendar=calendar, registry=registry)
        limiter = RateLimiter(redis, settings.rate_limit, registry=registry, clock=wall)
        monitor = RedisUsageMonitor(redis, settings.redis_monitor, registry=registry)
    relay = None
    if hub is not None:
        owners = (hub.strategy, hub.account, hub.analytics)
        relay = FollowUpRelay(
            store,
            {c.service: c.deliver for c in owners},
            registry=registry,
            metrics=hub.metrics,
            backoff_max=settings.outbox_retry_max_seconds,
        )
    desk = OrderDesk(
        settings=settings,
        store=store,
        broker=broker or SimulatedBroker(LAST_PRICES),
        clock=clock,  # order times on the exchange clock
        registry=registry,
        hub=hub,
        limiter=limiter,
        detector=detector,
        suspensions=store.suspensions(),
        on_follow_up=relay.wake if relay is not None else lambda: None,
    )
    return Components(context, replay, registry, store, desk, relay, monitor, detector, limiter)


def create_app(
    settings: Settings,
    *,
    credentials: CredentialStore | None = None,
    redis: aioredis.Redis | None = None,
    hub: ClientHub | None = None,
    replay: ReplayStore | None = None,
    registry: CollectorRegistry | None = None,
    store: OrderStore | None = None,
    broker: Broker | None = None,
    calendar: Calendar | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(IST),
    wall: Callable[[], float] = time.time,
) -> FastAPI:
    """The order service; `credentials` default to `settings.security.credentials_file`.

    `store` keeps orders, idempotency records and the outbox (default: in memory, nothing
    survives the process; `PostgresOrderStore` is the durable one). With `redis`: replay
    protection, rate limits, anomaly windows and the Redis monitor. With `hub`: strategy
    validation, P&L sync after fills through the outbox and its relay (`app.state.relay`:
    the caller runs it), the calendar for the off-hours rule, discovery and breaker
    health. Metrics go to the hub's registry.
    """
    parts = build_components(
        settings,
        credentials=credentials,
        redis=redis,
        hub=hub,
        replay=replay,
        registry=registry,
        store=store,
        broker=broker,
        calendar=calendar,
        clock=clock,
        wall=wall,
    )
    app = FastAPI(
        title="Order service",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=FastJSONResponse,
        redirect_slashes=False,  # a redirect would echo the Host header back; /orders/ is a 404
    )
    app.state.security = parts.security
    app.state.registry = parts.registry
    app.state.redis_monitor = parts.monitor
    app.state.store = parts.store
    app.state.replay = parts.replay
    app.state.relay = parts.relay
    requests_total = Counter(
        "order_service_http_requests_total",
        "HTTP requests by method, route and status.",
        ["method", "route", "status"],
        registry=parts.registry,
    )
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.server.max_body_bytes,
        max_header_bytes=settings.server.max_header_bytes,
    )
    app.add_middleware(RequestCounter, counter=requests_total)
    app.add_middleware(TracedRequests)  # outermost: the span covers the limits and the counter
    app.include_router(
        build_health_router(
            redis=redis,
            hub=hub,
            limiter=parts.limiter,
            monitor=parts.monitor,
            store=parts.store,
            relay=parts.relay,
            registry=parts.registry,
        )
    )
    app.include_router(build_orders_router(parts.desk))
    app.include_router(build_suspensions_router(parts.desk))
    install_error_handlers(app)
    return app


__all__ = ["Components", "build_components", "create_app"]
