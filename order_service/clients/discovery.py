"""Service discovery through the config service, cached, with settings as the fallback.

`resolve(name)` answers a base URL from the cache while its TTL (the config service's
`ttl_seconds`, capped by settings) runs; concurrent misses share one config call. A
connection failure to a service invalidates its entry so the next call asks again. When
the config service cannot answer, the address in `Settings.fallback_urls` is used (logged
as a warning, counted as a `discovery` fallback) and kept only briefly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from order_service.clients.base import Call, ServiceClient
from order_service.clients.models import ServiceEndpoint, ServiceList
from order_service.errors import ServiceError, ServiceUnavailableError
from order_service.metrics import ClientMetrics
from order_service.settings import Settings

log = logging.getLogger("order_service.discovery")
FALLBACK_TTL = 5.0  # seconds a settings address stands in before discovery is tried again


class ConfigServiceClient(ServiceClient):
    """The config service: where each service is."""

    service = "config-service"

    async def get_service_endpoint(self, service_name: str) -> ServiceEndpoint:
        """Where one service is, with the TTL its answer may be cached for."""
        return await self._perform(Call("getServiceEndpoint", "GET", f"/services/{service_name}", ServiceEndpoint))

    async def list_services(self) -> ServiceList:
        """Every registered service."""
        return await self._perform(Call("listServices", "GET", "/services", ServiceList))


class ServiceDiscovery:
    """Base URLs of services through the config service, cached, with settings as the fallback."""

    def __init__(
        self,
        config: ConfigServiceClient,
        settings: Settings,
        *,
        metrics: ClientMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._settings = settings
        self._metrics = metrics or config.metrics
        self._clock = clock
        self._cache: dict[str, tuple[list[tuple[str, int]], float]] = {}  # name -> (instances, expiry)
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, service: str) -> str:
        """The base URL of `service` (its first instance): cached, asked once for concurrent misses, or the fallback."""
        return (await self.resolve_all(service))[0][0]

    async def resolve_all(self, service: str) -> list[tuple[str, int]]:
        """Every instance of `service` as (base URL, weight); cached until the config service's TTL ends."""
        cached = self._cache.get(service)
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        lock = self._locks.setdefault(service, asyncio.Lock())
        async with lock:  # one config call for many concurrent misses
            cached = self._cache.get(service)
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
            instances, ttl = await self._lookup(service)
            self._cache[service] = (instances, self._clock() + ttl)
            return instances

    async def get_service_port(self, service: str) -> int:
        """The port `service` listens on (the seed's `_get_service_port`)."""
        parts = urlsplit(await self.resolve(service))
        return parts.port or (443 if parts.scheme == "https" else 80)

    def invalidate(self, service: str) -> None:
        """Forget the cached address of `service`: the next call asks again."""
        self._cache.pop(service, None)

    async def _lookup(self, service: str) -> tuple[list[tuple[str, int]], float]:
        try:
            endpoint = await self._config.get_service_endpoint(service)
        except ServiceError as exc:
            fallback = self._settings.fallback_urls.get(service)
            if fallback is None:
                raise ServiceUnavailableError(
                    f"cannot discover {service} ({exc}) and settings give no fallback address",
                    service=service,
                    operation="discovery",
                ) from exc
            self._metrics.fallbacks.labels(service, "discovery", "discovery").inc()
            log.warning("SERVICE_DISCOVERY_FALLBACK %s -> %s (settings): %s", service, fallback, exc)
            return [(fallback.rstrip("/"), 1)], min(FALLBACK_TTL, self._settings.discovery_ttl_max)
        instances = [(url.rstrip("/"), weight) for url, weight in endpoint.all_instances()]
        return instances, min(float(endpoint.ttl_seconds), self._settings.discovery_ttl_max)
