"""Real PostgreSQL for tests: a URL, or a throwaway server of its own (`mocks.postgres`).

Sources, in order: `HARNESS_DATABASE_URL` when set (a server the tests may create and drop
databases on); a throwaway server (`initdb` in a temporary folder, `postgres` on a free
loopback port) where the binaries exist. `HARNESS_POSTGRES_SOURCE=url|process` forces one.
Each test takes a fresh database of its own (`fresh_database`), so runs and tests never
share state.

"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from mocks.postgres import HOW_TO_GET, PostgresServer, PostgresUnavailable, available

__all__ = ["PostgresServer", "PostgresUnavailable", "RealPostgres", "fresh_database", "open_source"]
SOURCES = ("url", "process")


@dataclass(frozen=True)
class RealPostgres:
    """A PostgreSQL server for this run: its admin URL (database `postgres`) and the source that gave it."""

    url: str
    source: str  # url | process

    def database_url(self, name: str) -> str:
        """The URL of database `name` on this server."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))


def _from_process() -> Iterator[RealPostgres]:
    server = PostgresServer.create()
    try:
        server.start()
        yield RealPostgres(server.url, "process")
    except PostgresUnavailable as exc:
        raise PostgresUnavailable(f"{exc}; server log: {server.log()[-2000:]}") from exc
    finally:
        server.remove()


def _from_url(url: str) -> Iterator[RealPostgres]:
    yield RealPostgres(url, "url")


def open_source(forced: str | None = None) -> Iterator[RealPostgres]:
    """The generator of the first source that works (only `forced` when given); next() gives the server.

    Raises:
        PostgresUnavailable: no source works; the message says why for each.
    """
    if forced is not None and forced not in SOURCES:
        raise PostgresUnavailable(f"HARNESS_POSTGRES_SOURCE={forced!r}: expected one of {', '.join(SOURCES)}")
    url = os.environ.get("HARNESS_DATABASE_URL")
    reasons = []
    if forced in (None, "url"):
        if url:
            return _from_url(url)
        reasons.append("HARNESS_DATABASE_URL is not set")
    if forced in (None, "process"):
        if available():
            return _from_process()
        reasons.append(f"initdb is not on PATH ({HOW_TO_GET})")
    raise PostgresUnavailable("; ".join(reasons))


@contextlib.contextmanager
def fresh_database(server: RealPostgres) -> Iterator[str]:
    """A new, empty database on `server` for one test; dropped afterwards. Yields its URL."""
    import asyncio

    import asyncpg

    name = f"harness_{secrets.token_hex(6)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(server.url, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def run(statement: str) -> None:  # in a thread of its own: the caller may be inside an event loop
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(statement)).result()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield server.database_url(name)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
