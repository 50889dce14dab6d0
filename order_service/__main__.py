"""`python -m order_service serve`: run the order service (uvicorn) with its background work.

    python -m order_service serve --port 8000 --dev
    python -m order_service migrate          # bring the database's schema up to date, then exit

Settings come from the environment (`ORDER_SERVICE_*`); `--dev` adds the development keys
and user-token secret (never for production). Redis (`ORDER_SERVICE_REDIS_URL`) is needed
for orders; PostgreSQL (`ORDER_SERVICE_DATABASE_URL`) keeps them (without it, in memory:
a restart loses every order, said at start); discovery starts at
`ORDER_SERVICE_CONFIG_SERVICE_URL`. `serve` migrates the schema at start, logs one JSON
line per event on stdout (`ORDER_SERVICE_LOG_FORMAT`, `_LOG_LEVEL`, `_LOG_FILE`), and in
the background scans Redis usage, delivers the outbox's follow-ups and purges expired
idempotency records.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pydantic
import redis.asyncio as aioredis
from fastapi import FastAPI

from order_service import logs, tracing
from order_service.api.app import create_app
from order_service.clients import ClientHub
from order_service.errors import StoreError
from order_service.orders.migrate import migrate
from order_service.orders.postgres import PostgresOrderStore
from order_service.orders.store import MemoryOrderStore, OrderStore
from order_service.redis_client import redis_client
from order_service.security.dev import dev_security_settings, dev_service_token_client
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


log = logging.getLogger("order_service.serve")
PURGE_INTERVAL = 60.0  # seconds between purges of expired idempotency records


def order_store(settings: Settings) -> OrderStore:
    """PostgreSQL when `database_url` is set, else memory (and a warning: a restart loses every order)."""
    if settings.database_url:
        return PostgresOrderStore(
            settings.database_url,
            claim_seconds=settings.idempotency_claim_seconds,
            keep_seconds=settings.idempotency_ttl,
            pool_size=settings.database_pool_size,
        )
    log.warning("ORDER_STORE_IN_MEMORY ORDER_SERVICE_DATABASE_URL is not set: orders are lost when the process ends")
    return MemoryOrderStore(claim_seconds=settings.idempotency_claim_seconds, keep_seconds=settings.idempotency_ttl)


async def open_store(store: OrderStore, timeout: float, *, sleep: float = 0.5) -> None:
    """Open a PostgreSQL store (pool, migrations), waiting up to `timeout` seconds for the database."""
    if not isinstance(store, PostgresOrderStore):
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            await store.open()
            return
        except StoreError as exc:
            if time.monotonic() > deadline:
                raise StoreError(f"the order database did not answer within {timeout:.0f} s: {exc}") from exc
            await asyncio.sleep(sleep)


async def _purge(store: OrderStore, stop: asyncio.Event) -> None:
    purge = getattr(store, "purge", None)
    while purge is not None and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_INTERVAL)
        if stop.is_set():
            return  # shutting down: no purge on the way out
        try:
            await purge()
        except StoreError as exc:  # the relay reports the store's absence; a skipped purge is harmless
            log.debug("purge skipped: %s", exc)


def build(settings: Settings) -> FastAPI:
    if not settings.redis_url:
        raise ValueError("ORDER_SERVICE_REDIS_URL is not set: the order service keeps its limits and keys in Redis")
    clock = exchange_clock(settings.test_clock_start)
    redis = redis_client(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
    hub = ClientHub(settings)
    store = order_store(settings)
    app = create_app(settings, redis=redis, hub=hub, clock=clock, store=store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with tracing.installed(tracing.provider_from(settings.tracing)):  # flushed on the way out
            async with _running(app, settings, store, hub, redis):
                yield

    app.router.lifespan_context = lifespan
    return app


@contextlib.asynccontextmanager
async def _running(
    app: FastAPI, settings: Settings, store: OrderStore, hub: ClientHub, redis: aioredis.Redis
) -> AsyncIterator[None]:
    """The service's parts started (store, replay epoch, background tasks), and stopped after."""
    await open_store(store, settings.database_connect_timeout)
    with contextlib.suppress(aioredis.RedisError, OSError):  # Redis away: the first request makes the epoch
        await app.state.replay.ensure_epoch()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(app.state.redis_monitor.run(stop=stop)),
        asyncio.create_task(hub.relay.run(settings.outbox_relay_interval, stop=stop)),
        asyncio.create_task(app.state.relay.run(settings.outbox_relay_interval, stop=stop)),
        asyncio.create_task(_purge(store, stop)),
    ]
    log.info("ORDER_SERVICE_STARTED store=%s", "postgresql" if store.durable else "memory")
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.aclose()
        await redis.aclose()
        await store.close()


async def _migrate(settings: Settings) -> int:
    if not settings.database_url:
        print("error: ORDER_SERVICE_DATABASE_URL is not set", file=sys.stderr)
        return 2
    import asyncpg

    try:
        connection = await asyncpg.connect(settings.database_url, timeout=settings.database_connect_timeout)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"error: cannot reach the database: {exc}", file=sys.stderr)
        return 2
    try:
        applied = await migrate(connection)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await connection.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("the schema is up to date")
    return 0


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
    commands.add_parser("migrate", help="bring the database's schema up to date (serve does it at start too)")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        print(f"error: the ORDER_SERVICE_* settings are invalid: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    from order_service.api.server import serve as serve_http  # uvicorn loads only to serve

    logs.configure(settings.log_level, settings.log_format, settings.log_file)
    if args.dev:
        dev = dev_security_settings()  # the dev keys and token secret; the other security settings stay
        keys = {
            "credentials_file": dev.credentials_file,
            "jwt_secret": dev.jwt_secret,
            "jwt_audience": dev.jwt_audience,
        }
        settings = settings.model_copy(update={"security": settings.security.model_copy(update=keys)})
        if settings.service_tokens.enabled and not settings.service_tokens.client_secret:
            client_id, secret = dev_service_token_client()
            tokens = settings.service_tokens.model_copy(update={"client_id": client_id, "client_secret": secret})
            settings = settings.model_copy(update={"service_tokens": tokens})
    if settings.test_clock_start is not None:
        print(f"warning: test clock: exchange time starts at {settings.test_clock_start.isoformat()}", file=sys.stderr)
    try:
        app = build(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _settle_gc()
    serve_http(app, args.host, args.port, settings.server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
