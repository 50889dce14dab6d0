"""Automatic suspension: an account with too many CRITICAL anomalies in a window is suspended.

The policy (settings `suspension.*`): `critical_limit` CRITICAL anomalies whose times lie in
the last `window_seconds` (an anomaly exactly `window_seconds` old no longer counts)
suspend the account for `duration_seconds` (or until lifted, when that is unset). A lift,
or the end of a suspension, forgives the anomalies before it. While suspended, the
account's orders and modifications are refused (403 `account_suspended`); cancellations
still pass, so a risk desk can close what is open.

The anomalies and the suspensions live with the order service's own state (PostgreSQL,
`order_service.critical_anomalies` and `order_service.suspensions`), shared by replicas and
kept through a Redis restart; `MemorySuspensions` serves runs without a database. Each
account's counting is serialised (an advisory lock in PostgreSQL), so two replicas
counting at once suspend it once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from order_service.errors import OrderServiceError
from order_service.settings import SuspensionSettings

if TYPE_CHECKING:
    from order_service.orders.migrate import Db  # asyncpg's types: the memory store does not load them


class AccountSuspended(OrderServiceError):
    """The account is suspended: its orders are refused until the suspension ends or is lifted."""

    def __init__(self, suspension: Suspension) -> None:
        super().__init__(f"trading account {suspension.account} is suspended after repeated CRITICAL anomalies")
        self.suspension = suspension


class NotSuspended(OrderServiceError):
    """No suspension is in force for the account."""


@dataclass(frozen=True)
class Suspension:
    account: str
    since: datetime
    until: datetime | None  # None: until lifted
    critical_count: int
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active(self, at: datetime) -> bool:
        """In force at `at`: not lifted, and not over (the end itself is free)."""
        return self.lifted_at is None and (self.until is None or at < self.until)

    def ended(self) -> datetime:
        """When it stopped counting against the account: the lift, the end, or (still on) its start."""
        return self.lifted_at or self.until or self.since

    def as_dict(self) -> dict[str, Any]:
        """The contract's `Suspension` object."""
        return {
            "trading_account_id": self.account,
            "suspended_at": self.since.isoformat(),
            "suspended_until": self.until.isoformat() if self.until else None,
            "critical_anomalies": self.critical_count,
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
            "lifted_by": self.lifted_by,
        }


@dataclass(frozen=True)
class SuspensionPolicy:
    critical_limit: int
    window: timedelta
    duration: timedelta | None

    @classmethod
    def from_settings(cls, settings: SuspensionSettings) -> SuspensionPolicy:
        duration = settings.duration_seconds
        return cls(
            settings.critical_limit,
            timedelta(seconds=settings.window_seconds),
            timedelta(seconds=duration) if duration is not None else None,
        )

    @property
    def enabled(self) -> bool:
        return self.critical_limit > 0

    def counted_from(self, at: datetime, last: Suspension | None) -> datetime:
        """Anomalies strictly after this moment count at `at`."""
        start = at - self.window
        return max(start, last.ended()) if last is not None else start

    def suspension(self, account: str, at: datetime, count: int) -> Suspension:
        return Suspension(account, at, at + self.duration if self.duration is not None else None, count)


class Suspensions(Protocol):
    async def current(self, account: str, at: datetime) -> Suspension | None:
        """The account's suspension in force at `at`, if any."""
        ...

    async def critical_anomaly(
        self, account: str, at: datetime, order_id: str | None, policy: SuspensionPolicy
    ) -> Suspension | None:
        """Count one CRITICAL anomaly; the suspension it started, when it reached the limit (else None)."""
        ...

    async def lift(self, account: str, at: datetime, identity: str) -> Suspension | None:
        """Lift the suspension in force; it, lifted (None when there was none)."""
        ...


class MemorySuspensions:
    """For runs without a database: one process's memory (replicas would not share it)."""

    def __init__(self) -> None:
        self._anomalies: dict[str, list[datetime]] = {}
        self._last: dict[str, Suspension] = {}

    async def current(self, account: str, at: datetime) -> Suspension | None:
        last = self._last.get(account)
        return last if last is not None and last.active(at) else None

    async def critical_anomaly(
        self, account: str, at: datetime, order_id: str | None, policy: SuspensionPolicy
    ) -> Suspension | None:
        last = self._last.get(account)
        if last is not None and last.active(at):
            return None
        since = policy.counted_from(at, last)
        times = [t for t in self._anomalies.get(account, []) if t > since] + [at]
        self._anomalies[account] = times
        if len(times) < policy.critical_limit:
            return None
        self._last[account] = suspension = policy.suspension(account, at, len(times))
        return suspension

    async def lift(self, account: str, at: datetime, identity: str) -> Suspension | None:
        current = await self.current(account, at)
        if current is None:
            return None
        self._last[account] = lifted = replace(current, lifted_at=at, lifted_by=identity)
        return lifted


_COLUMNS = "account, since, until, critical_count, lifted_at, lifted_by"
_LAST = f"SELECT {_COLUMNS} FROM order_service.suspensions WHERE account = $1"
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('suspension:' || $1, 0))"
_RECORD = "INSERT INTO order_service.critical_anomalies (account, order_id, at) VALUES ($1, $2, $3)"
# no upper bound: an anomaly stamped a little ahead by another replica's clock counts too
_COUNT = "SELECT count(*) FROM order_service.critical_anomalies WHERE account = $1 AND at > $2"
_SUSPEND = f"""
INSERT INTO order_service.suspensions ({_COLUMNS}) VALUES ($1, $2, $3, $4, NULL, NULL)
ON CONFLICT (account) DO UPDATE SET since = EXCLUDED.since, until = EXCLUDED.until,
    critical_count = EXCLUDED.critical_count, lifted_at = NULL, lifted_by = NULL
"""
_LIFT = f"""
UPDATE order_service.suspensions SET lifted_at = $2, lifted_by = $3
WHERE account = $1 AND lifted_at IS NULL AND (until IS NULL OR until > $2)
RETURNING {_COLUMNS}
"""


def _suspension(row: Any) -> Suspension | None:
    return Suspension(*row) if row is not None else None


class PostgresSuspensions:
    """Suspensions in the order service's schema, on the order store's pool (`connection` lends one)."""

    def __init__(self, connection: Callable[[], contextlib.AbstractAsyncContextManager[Db]]) -> None:
        self._connection = connection

    async def current(self, account: str, at: datetime) -> Suspension | None:
        async with self._connection() as db:
            last = _suspension(await db.fetchrow(_LAST, account))
        return last if last is not None and last.active(at) else None

    async def critical_anomaly(
        self, account: str, at: datetime, order_id: str | None, policy: SuspensionPolicy
    ) -> Suspension | None:
        async with self._locked(account) as db:
            await db.execute(_RECORD, account, order_id, at)
            last = _suspension(await db.fetchrow(_LAST, account))
            if last is not None and last.active(at):
                return None
            count = int(await db.fetchval(_COUNT, account, policy.counted_from(at, last)))
            if count < policy.critical_limit:
                return None
            suspension = policy.suspension(account, at, count)
            await db.execute(_SUSPEND, account, suspension.since, suspension.until, count)
            return suspension

    async def lift(self, account: str, at: datetime, identity: str) -> Suspension | None:
        async with self._locked(account) as db:
            return _suspension(await db.fetchrow(_LIFT, account, at, identity))

    @contextlib.asynccontextmanager
    async def _locked(self, account: str) -> AsyncIterator[Db]:
        async with self._connection() as db, db.transaction():
            await db.execute(_LOCK, account)
            yield db
