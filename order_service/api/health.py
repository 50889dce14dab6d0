"""Health and metrics endpoints of the order service (no credentials needed)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from order_service.api.dependencies import dependency_report
from order_service.clients import ClientHub
from order_service.errors import StoreError
from order_service.orders.relay import FollowUpRelay
from order_service.orders.store import OrderStore
from order_service.services.rate_limiter import RateLimiter
from order_service.services.redis_usage_monitor import RedisUsageMonitor

CHECK_TIMEOUT = 0.9  # seconds: a health answer comes within a second, whatever is down


async def _redis_check(redis: aioredis.Redis | None) -> dict[str, str]:
    if redis is None:
        return {"status": "down", "detail": "no Redis configured"}
    try:
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(redis.ping(), CHECK_TIMEOUT)
        return {"status": "up", "detail": f"PING {(asyncio.get_running_loop().time() - started) * 1000:.1f} ms"}
    except (TimeoutError, aioredis.RedisError, OSError) as exc:
        return {"status": "down", "detail": f"Redis unreachable: {type(exc).__name__}"}


async def _store_checks(store: OrderStore, relay: FollowUpRelay | None) -> dict[str, dict[str, Any]]:
    """The order store's check, and the outbox's (counts per owner; dead letters do not make it down)."""
    kind = "PostgreSQL" if store.durable else "in memory (not durable)"
    try:
        counts = await asyncio.wait_for(
            relay.refresh_gauges() if relay is not None else store.outbox_counts(), CHECK_TIMEOUT
        )
    except (TimeoutError, StoreError) as exc:
        return {"order_store": {"status": "down", "detail": f"{kind}: {type(exc).__name__}"}}
    pending = sum(c["pending"] for c in counts.values())
    dead = sum(c["dead"] for c in counts.values())
    return {
        "order_store": {"status": "up", "detail": kind},
        "outbox": {"status": "up", "detail": f"{pending} pending, {dead} dead", "counts": counts},
    }


def build_health_router(
    *,
    redis: aioredis.Redis | None,
    hub: ClientHub | None,
    limiter: RateLimiter | None,
    monitor: RedisUsageMonitor | None,
    store: OrderStore,
    relay: FollowUpRelay | None,
    registry: CollectorRegistry,
) -> APIRouter:
    router = APIRouter()
    started = time.monotonic()

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        checks = {"redis": await _redis_check(redis), **await _store_checks(store, relay)}
        if hub is not None:
            try:
                listing = await asyncio.wait_for(hub.config.list_services(), CHECK_TIMEOUT)
                checks["config_service"] = {"status": "up", "detail": f"{len(listing.items)} services registered"}
            except Exception as exc:  # any failure to discover is "down", said in general words
                checks["config_service"] = {"status": "down", "detail": f"discovery failed: {type(exc).__name__}"}
            opened = [name for name, b in hub.breakers.snapshot().items() if b["state"] != "closed"]
            checks["circuit_breakers"] = {
                "status": "up",
                "detail": "all closed" if not opened else "not closed: " + ", ".join(opened),
            }
        ready_now = all(check["status"] == "up" for check in checks.values())
        body = {"status": "ready" if ready_now else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready_now else 503)

    @router.get("/health/outbox")
    async def outbox(
        state: Annotated[Literal["pending", "dead"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        try:
            entries = await asyncio.wait_for(store.outbox_entries(state, limit), CHECK_TIMEOUT)
        except (TimeoutError, StoreError) as exc:
            body = {"error": "unavailable", "message": f"the order store is unavailable: {type(exc).__name__}"}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"entries": entries})

    @router.get("/health/redis")
    async def redis_health() -> JSONResponse:
        if monitor is None:
            return JSONResponse(
                {"error": "unavailable", "message": "this order service runs without Redis"}, status_code=503
            )
        status, body = await monitor.health_report()
        return JSONResponse(body, status_code=status)

    @router.get("/health/redis/analytics")
    async def redis_analytics() -> JSONResponse:
        if monitor is None:
            return JSONResponse(
                {"error": "unavailable", "message": "this order service runs without Redis"}, status_code=503
            )
        status, body = monitor.analytics()
        return JSONResponse(body, status_code=status)

    @router.get("/health/rate-limiter")
    async def rate_limiter() -> JSONResponse:
        check = await _redis_check(redis)
        body: dict[str, Any] = {
            "status": "healthy" if check["status"] == "up" and limiter is not None else "unhealthy",
            "backend": "redis",
            "limits": limiter.describe() if limiter else [],
            "rejected_total": limiter.rejected_total() if limiter else 0,
        }
        return JSONResponse(body, status_code=200 if body["status"] == "healthy" else 503)

    @router.get("/health/circuit-breaker")
    async def circuit_breakers() -> dict[str, Any]:
        breakers = hub.breakers.snapshot() if hub else {}
        degraded = any(b["state"] != "closed" for b in breakers.values())
        return {"status": "degraded" if degraded else "healthy", "breakers": breakers}

    @router.get("/health/dependencies")
    async def dependencies() -> JSONResponse:
        if hub is None:  # built without its clients (a test app): it calls nobody
            return JSONResponse({"window_seconds": time.monotonic() - started, "discovered": None, "edges": []})
        discovered: list[str] | None
        try:
            listing = await asyncio.wait_for(hub.config.list_services(), CHECK_TIMEOUT)
            discovered = sorted(item.name for item in listing.items)
        except Exception:  # discovery away: the edges are still known; the nodes are not
            discovered = None
        report = dependency_report(hub.metrics, time.monotonic() - started, discovered)
        return JSONResponse({**report, "instances": hub.balancers.snapshot()})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
