"""Versioned migrations of the order service's schema, applied in order, each once.

The SQL files beside this module (`migrations/NNNN_name.sql`) are the schema's history;
`order_service.schema_migrations` records which were applied and their checksum. Replicas
starting together take an advisory lock, so exactly one applies a migration. An applied
file that changed since, or a database migrated by a newer release, stops the start-up:
both mean this code and this database disagree about the schema.

Written by hand: the job is forty lines, and the migration tools on PyPI want SQLAlchemy
or a synchronous driver beside asyncpg.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from order_service.errors import StoreError

LOCK = 0x6F726465  # pg_advisory_xact_lock key of the migrations ("orde")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


# A connection of its own, or one lent by a pool.
Db: TypeAlias = "asyncpg.Connection | PoolConnectionProxy"


class MigrationError(StoreError):
    """The database's schema history and this code's disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """Every migration this code knows, oldest first."""
    found = []
    for entry in resources.files("order_service.orders.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(connection: Db) -> list[Migration]:
    """Apply what is missing, in one transaction; return what was applied (nothing when up to date)."""
    known = migrations()
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
        await connection.execute(
            "CREATE SCHEMA IF NOT EXISTS order_service;"
            "CREATE TABLE IF NOT EXISTS order_service.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await connection.fetch("SELECT version, name, checksum FROM order_service.schema_migrations")
        applied = {row["version"]: row for row in rows}
        _check_history(applied, known)
        missing = [m for m in known if m.version not in applied]
        for migration in missing:
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO order_service.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    return missing


def _check_history(applied: dict[int, asyncpg.Record], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    for version, row in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{row['name']}, which this code does not know "
                "(it was migrated by a newer release)"
            )
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} changed after it was applied: "
                "write a new migration instead of editing an applied one"
            )
