"""The order service's clients of other services, and what they share.

`ClientHub` builds, once, everything the clients share: settings, discovery, one breaker
per service, metrics, the stale cache, the outbox and its relay. The seed's async
factories (`get_strategy_client()`, ...) answer the clients of a default hub, built on
first use from the environment; tests and apps build their own hub instead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import httpx
from prometheus_client import CollectorRegistry

from order_service.clients.account import AccountServiceClient
from order_service.clients.analytics import AnalyticsServiceClient
from order_service.clients.balancer import BalancerBoard
from order_service.clients.base import ServiceClient, tls_context
from order_service.clients.breaker import BreakerBoard
from order_service.clients.calendar import CalendarServiceClient
from order_service.clients.discovery import ConfigServiceClient, ServiceDiscovery
from order_service.clients.strategy import StrategyServiceClient
from order_service.clients.tokens import SERVICE as TOKEN_SERVICE
from order_service.clients.tokens import ServiceTokenAuth, ServiceTokens
from order_service.fallbacks.outbox import InMemoryOutbox, Outbox, OutboxRelay, RedisOutbox
from order_service.fallbacks.stale import StaleCache
from order_service.metrics import ClientMetrics
from order_service.redis_client import redis_client
from order_service.settings import Settings


class ClientHub:
    """Everything the clients share, built once: settings, discovery, breakers, metrics, caches, outbox, relay."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        outbox: Outbox | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.metrics = ClientMetrics(registry)
        self.breakers = BreakerBoard(settings.breaker, clock=clock)
        self.balancers = BalancerBoard(settings.load_balancing, clock=clock, registry=self.metrics.registry)
        self.stale = StaleCache(clock=clock)
        self._redis = redis_client(settings.redis_url) if settings.redis_url and outbox is None else None
        self.outbox: Outbox = outbox or (RedisOutbox(self._redis) if self._redis else InMemoryOutbox())
        shared = {
            "transport": transport,
            "settings": settings,
            "breakers": self.breakers,
            "balancers": self.balancers,
            "metrics": self.metrics,
            "sleep": sleep,
            "rand": rand,
        }
        self.config = ConfigServiceClient(base_url=settings.config_service_url, **shared)  # type: ignore[arg-type]
        self.discovery = ServiceDiscovery(self.config, settings, metrics=self.metrics, clock=clock)
        self.tokens = self._service_tokens(settings, transport, clock)
        auth = {"auth": ServiceTokenAuth(self.tokens)} if self.tokens is not None else {}
        with_fallbacks = {**shared, "resolver": self.discovery, "outbox": self.outbox, "stale": self.stale, **auth}
        self.strategy = StrategyServiceClient(**with_fallbacks)  # type: ignore[arg-type]
        self.account = AccountServiceClient(**with_fallbacks)  # type: ignore[arg-type]
        self.analytics = AnalyticsServiceClient(**with_fallbacks)  # type: ignore[arg-type]
        self.calendar = CalendarServiceClient(**with_fallbacks)
        clients: list[ServiceClient] = [self.strategy, self.account, self.analytics]
        self.relay = OutboxRelay(
            self.outbox,
            {c.service: c.deliver for c in clients},
            on_result=self._count_delivery,
            on_depth=lambda service, depth: self.metrics.outbox_depth.labels(service).set(depth),
        )

    def _service_tokens(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None, clock: Callable[[], float]
    ) -> ServiceTokens | None:
        """The owners' service tokens when `service_tokens.enabled`: from the set URL, or auth-service discovered."""
        config = settings.service_tokens
        if not config.enabled:
            return None
        if not config.client_secret:
            raise ValueError("service_tokens.enabled needs service_tokens.client_secret")

        async def discovered() -> str:
            return (await self.discovery.resolve(TOKEN_SERVICE)).rstrip("/") + "/oauth/token"

        return ServiceTokens(
            config.token_url or discovered,
            config.client_id,
            config.client_secret,
            scope=config.scope,
            refresh_margin=config.refresh_margin_seconds,
            transport=transport,
            clock=clock,
            verify=tls_context(settings.http),
        )

    def _count_delivery(self, service: str, result: str) -> None:
        self.metrics.outbox_delivered.labels(service, result).inc()

    async def aclose(self) -> None:
        """Close every client and the outbox's Redis connection."""
        for client in (self.config, self.strategy, self.account, self.analytics, self.calendar):
            await client.aclose()
        if self.tokens is not None:
            await self.tokens.aclose()
        if self._redis is not None:
            await self._redis.aclose()


_default: ClientHub | None = None


def default_hub() -> ClientHub:
    """The process-wide hub, built from the environment on first use (never at import)."""
    global _default
    if _default is None:
        _default = ClientHub(Settings())
    return _default


async def get_strategy_client() -> StrategyServiceClient:
    """The default hub's strategy-service client (the seed's factory)."""
    return default_hub().strategy


async def get_account_client() -> AccountServiceClient:
    """The default hub's account-service client (the seed's factory)."""
    return default_hub().account


async def get_analytics_client() -> AnalyticsServiceClient:
    """The default hub's analytics-service client (the seed's factory)."""
    return default_hub().analytics


async def _get_service_port(service_name: str, discovery: ServiceDiscovery | None = None) -> int:
    """The port a service listens on, through the config service (as the compliance document names it)."""
    return await (discovery or default_hub().discovery).get_service_port(service_name)


__all__ = [
    "AccountServiceClient",
    "AnalyticsServiceClient",
    "ClientHub",
    "ConfigServiceClient",
    "ServiceDiscovery",
    "StrategyServiceClient",
    "_get_service_port",
    "default_hub",
    "get_account_client",
    "get_analytics_client",
    "get_strategy_client",
]
