"""`python -m order_service serve`: run the order service (uvicorn) with its background work.

    python -m order_service serve --port 8000 --dev

Settings come from the environment (`ORDER_SERVICE_*`); `--dev` adds the development keys
and user-token secret (never for production). Redis (`ORDER_SERVICE_REDIS_URL`) is needed
for orders; discovery starts at `ORDER_SERVICE_CONFIG_SERVICE_URL`. In the background it
scans Redis usage and replays the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from fastapi import FastAPI

from order_service.api.app import create_app
from order_service.clients import ClientHub
from order_service.security.dev import dev_security_settings
from order_service.services.order_anomaly_detector import IST
from order_service.settings import Settings


def exchange_clock(
    start: datetime | None, *, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], datetime]:
    """The service's exchange clock: IST wall time, or `start` moving on at real speed (tests only)."""
    if start is None:
        return lambda: datetime.now(IST)
    if start.tzinfo is None:
        raise ValueError("ORDER_SERVICE_TEST_CLOCK_START needs a UTC offset")
    began, origin = monotonic(), start.astimezone(IST)
    return lambda: origin + timedelta(seconds=monotonic() - began)


def build(settings: Settings) -> FastAPI:
    if not settings.redis_url:
        raise ValueError("ORDER_SERVICE_REDIS_URL is not set: the order service keeps its limits and keys in Redis")
    clock = exchange_clock(settings.test_clock_start)
    redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
    hub = ClientHub(settings)
    app = create_app(settings, redis=redis, hub=hub, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(app.state.redis_monitor.run(stop=stop)),
            asyncio.create_task(hub.relay.run(settings.outbox_relay_interval, stop=stop)),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await hub.aclose()
            await redis.aclose()

    app.router.lifespan_context = lifespan
    return app


def _settle_gc() -> None:
    """Keep the cycle collector off the request path's tail.

    A full collection walks every tracked object, most of them the modules and the app built
    at start-up, and those stalls made the p99 of order placement under load. Freezing what exists
    now takes it out of the collector's view; a larger young generation collects less often.
    Reference counting still frees everything without cycles at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_service", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the order service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--dev", action="store_true", help="use the development keys (never in production)")
    args = parser.parse_args(argv)
    import uvicorn

    settings = Settings()
    if args.dev:
        settings = settings.model_copy(update={"security": dev_security_settings()})
    if settings.test_clock_start is not None:
        print(f"warning: test clock: exchange time starts at {settings.test_clock_start.isoformat()}", file=sys.stderr)
    try:
        app = build(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _settle_gc()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
