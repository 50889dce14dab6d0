"""Where orders are kept: the store's interface, its records, and the in-memory store.

A store keeps orders, positions, idempotency records and the outbox of follow-up writes,
and changes them together: `place` commits the order, its key's answer and its follow-ups
at once, or none of them. `PostgresOrderStore` (`order_service.orders.postgres`) is the
durable one, shared by replicas; `MemoryOrderStore` keeps the same promises inside one
process, for unit tests and runs without a database, and loses everything at exit.

Idempotency: `claim` takes a key for one request; a claim expires `claim_seconds` after it
was taken (a request that died holding it does not block its retries for long), and an
answer is kept `keep_seconds`. Whoever commits first for a key is the answer for it: a
second `place` under the same key returns the first one's order, never a second order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from order_service.orders.book import Fill, OrderNotFound, Position
from order_service.orders.suspensions import MemorySuspensions, Suspensions

OutboxState = Literal["pending", "delivered", "dead"]


class KeyInProgress(Exception):
    """A request with this Idempotency-Key is still running (409)."""

    def __init__(self, key: str, why: str = "is still in progress") -> None:
        super().__init__(f"the request with Idempotency-Key {key} {why}")


class KeyReused(Exception):
    """The Idempotency-Key was used for a different request (422)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key} was used for a different request")


@dataclass(frozen=True)
class Stored:
    """The answer a key gives: status and body of its first request."""

    status: int
    body: Any
    replayed: bool = False  # the answer of an earlier request under the same key


@dataclass(frozen=True)
class Claim:
    """A key taken for one request; `token` tells this claim from a later one of the same key."""

    account: str
    key: str
    fingerprint: str
    token: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass(frozen=True)
class FollowUp:
    """A write to another service that an order change causes, kept in the outbox until delivered.

    `partition` orders delivery: entries of one partition reach the owner in the order they
    were written (one strategy's P&L snapshots, oldest first).
    """

    service: str
    operation: str
    method: str
    path: str
    body: Any
    idempotency_key: str
    partition: str
    traceparent: str | None = None  # the trace of the request that wrote it (W3C), when traced


@dataclass(frozen=True)
class OutboxEntry:
    """A follow-up as the outbox holds it."""

    id: int
    follow_up: FollowUp
    order_id: str | None
    attempts: int


# The follow-ups of an order change: given the order as stored and the account's positions
# after its fill (if any), the writes to commit with it.
FollowUps = Callable[[Mapping[str, Any], Sequence[Position]], Sequence[FollowUp]]
Change = Callable[[Mapping[str, Any]], dict[str, Any]]


class OutboxBatch(Protocol):
    """Entries claimed for delivery; each gets one verdict, kept when the batch ends."""

    @property
    def entries(self) -> Sequence[OutboxEntry]:
        """The claimed entries, oldest first."""

    async def delivered(self, entry: OutboxEntry) -> None: ...
    async def retry(self, entry: OutboxEntry, error: str, delay: float) -> None: ...
    async def dead(self, entry: OutboxEntry, reason: str) -> None: ...


class OrderStore(Protocol):
    """The order service's state (see the module doc)."""

    @property
    def durable(self) -> bool:
        """Whether what it keeps survives the process."""

    async def claim(self, account: str, key: str, fingerprint: str) -> Claim | Stored:
        """Take `key` for a new request, or the answer its first request got.

        Raises:
            KeyReused: the key's first request had another fingerprint.
            KeyInProgress: the key's first request still runs (its claim has not expired).
        """

    async def release(self, claim: Claim) -> None:
        """Give the key back: its request placed nothing."""

    async def place(
        self, order: dict[str, Any], prefix: str, claim: Claim | None, follow_ups: FollowUps | None
    ) -> Stored:
        """Commit `order` (its id: `prefix` and nine digits), its fill, its key's answer and its follow-ups.

        Returns the answer for the key: this order (201), or the order an earlier request under
        the same key committed first (then nothing of this one is kept).
        """

    async def get(self, account: str, order_id: str) -> dict[str, Any]:
        """One order of `account` (OrderNotFound otherwise)."""

    async def page(
        self, account: str, status: str | None, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` orders, newest first, older than the cursor `before`; and the next cursor."""

    async def change(self, account: str, order_id: str, change: Change, follow_ups: FollowUps | None) -> dict[str, Any]:
        """Apply `change` to one order of `account` (nobody else changes it meanwhile) and commit it."""

    async def positions(self, account: str) -> list[Position]:
        """The account's positions."""

    def outbox_batch(self, limit: int) -> contextlib.AbstractAsyncContextManager[OutboxBatch]:
        """Claim up to `limit` due entries (the oldest pending one per partition) for delivery."""

    async def outbox_counts(self) -> dict[str, dict[str, int]]:
        """Per service, how many entries are pending and dead."""

    async def outbox_entries(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` entries not delivered (of `state` when given), oldest first, as `/health/outbox` lists them."""

    def suspensions(self) -> Suspensions:
        """The account suspensions kept with this store's state."""

    async def close(self) -> None:
        """Release connections."""


@dataclass
class _Key:
    fingerprint: str
    token: str
    claimed_until: float
    answer: Stored | None = None
    expires_at: float = 0.0


@dataclass
class _Entry:
    entry: OutboxEntry
    state: OutboxState = "pending"
    due: float = 0.0
    error: str | None = None


class MemoryOrderStore:
    """The store's promises inside one process (see the module doc): nothing survives its exit."""

    durable = False

    def __init__(
        self,
        *,
        claim_seconds: float = 10.0,
        keep_seconds: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._claim_seconds = claim_seconds
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._orders: dict[str, dict[str, Any]] = {}
        self._positions: dict[tuple[str, str, str, str], Position] = {}
        self._keys: dict[tuple[str, str], _Key] = {}
        self._outbox: list[_Entry] = []
        self._claimed: set[int] = set()
        self._number = 0
        self._suspensions = MemorySuspensions()

    # -- idempotency ---------------------------------------------------------------------
    async def claim(self, account: str, key: str, fingerprint: str) -> Claim | Stored:
        now = self._clock()
        record = self._keys.get((account, key))
        if record is not None and (record.expires_at if record.answer else record.claimed_until) < now:
            record = None  # an abandoned claim, or an answer kept long enough
        if record is None:
            claim = Claim(account, key, fingerprint)
            self._keys[(account, key)] = _Key(fingerprint, claim.token, now + self._claim_seconds)
            return claim
        if record.fingerprint != fingerprint:
            raise KeyReused(key)
        if record.answer is None:
            raise KeyInProgress(key)
        return record.answer

    async def release(self, claim: Claim) -> None:
        record = self._keys.get((claim.account, claim.key))
        if record is not None and record.token == claim.token and record.answer is None:
            del self._keys[(claim.account, claim.key)]

    # -- orders --------------------------------------------------------------------------
    async def place(
        self, order: dict[str, Any], prefix: str, claim: Claim | None, follow_ups: FollowUps | None
    ) -> Stored:
        record = self._keys.get((claim.account, claim.key)) if claim else None
        if claim is not None and record is not None and record.answer is not None:
            if record.fingerprint != claim.fingerprint:
                raise KeyReused(claim.key)
            return dataclasses.replace(record.answer, replayed=True)  # an earlier request committed first
        number = self._number + 1
        stored = {**order, "order_id": f"{prefix}{number:09d}"}
        commit = self._fill_effects(stored, None, follow_ups)  # may raise: nothing is changed yet
        self._number = number
        self._orders[stored["order_id"]] = stored
        commit()
        answer = Stored(201, stored)
        if claim is not None:
            now = self._clock()
            self._keys[(claim.account, claim.key)] = _Key(
                claim.fingerprint, claim.token, now, answer, now + self._keep_seconds
            )
        return answer

    def _fill_effects(
        self, order: dict[str, Any], before: Mapping[str, Any] | None, follow_ups: FollowUps | None
    ) -> Callable[[], None]:
        """What the order's fill changes (its position, its follow-ups), worked out now and applied by the callable.

        Everything that can fail happens here, before any change: a commit is whole or nothing.
        """
        fill = Fill.of(order, before)
        if fill is None:
            return lambda: None
        account = order["trading_account_id"]
        where = (account, fill.tradingsymbol, fill.exchange, fill.product)
        position = self._positions.get(where, Position(*where[1:])).plus(fill)
        mine = {k: p for k, p in self._positions.items() if k[0] == account}
        after = list({**mine, where: position}.values())
        writes = list(follow_ups(order, after)) if follow_ups else []

        def apply() -> None:
            self._positions[where] = position
            for follow_up in writes:
                entry = OutboxEntry(len(self._outbox) + 1, follow_up, order["order_id"], 0)
                self._outbox.append(_Entry(entry, due=self._clock()))

        return apply

    def _account_positions(self, account: str) -> list[Position]:
        return [p for (owner, *_), p in self._positions.items() if owner == account]

    async def get(self, account: str, order_id: str) -> dict[str, Any]:
        order = self._orders.get(order_id)
        if order is None or order["trading_account_id"] != account:
            raise OrderNotFound(f"order {order_id} does not exist")
        return order

    async def page(
        self, account: str, status: str | None, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        newest_first = sorted(
            (
                o
                for o in self._orders.values()
                if o["trading_account_id"] == account and (status is None or o["status"] == status)
            ),
            key=lambda o: o["order_id"],
            reverse=True,
        )
        remaining = [o for o in newest_first if before is None or o["order_id"] < before]
        page = remaining[:limit]
        return page, page[-1]["order_id"] if len(remaining) > limit else None

    async def change(self, account: str, order_id: str, change: Change, follow_ups: FollowUps | None) -> dict[str, Any]:
        before = await self.get(account, order_id)
        after = change(before)
        commit = self._fill_effects(after, before, follow_ups)
        self._orders[order_id] = after
        commit()
        return after

    async def positions(self, account: str) -> list[Position]:
        return self._account_positions(account)

    # -- the outbox ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def outbox_batch(self, limit: int) -> AsyncIterator[OutboxBatch]:
        now, heads, seen = self._clock(), list[_Entry](), set[tuple[str, str]]()
        for row in self._outbox:
            where = (row.entry.follow_up.service, row.entry.follow_up.partition)
            if row.state != "pending" or where in seen:
                continue
            seen.add(where)  # only the oldest pending entry of a partition
            if row.due <= now and row.entry.id not in self._claimed and len(heads) < limit:
                heads.append(row)
        batch = _MemoryBatch(self, heads)
        self._claimed.update(row.entry.id for row in heads)
        try:
            yield batch
        finally:
            self._claimed.difference_update(row.entry.id for row in heads)

    async def outbox_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for row in self._outbox:
            if row.state != "delivered":
                service = counts.setdefault(row.entry.follow_up.service, {"pending": 0, "dead": 0})
                service[row.state] += 1
        return counts

    async def outbox_entries(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [r for r in self._outbox if r.state != "delivered" and (state is None or r.state == state)]
        return [_listed(r.entry, r.state, r.error) for r in rows[:limit]]

    def suspensions(self) -> Suspensions:
        return self._suspensions

    async def close(self) -> None:
        pass


def _listed(entry: OutboxEntry, state: str, error: str | None) -> dict[str, Any]:
    """An entry as `/health/outbox` lists it."""
    f = entry.follow_up
    return {
        "id": entry.id,
        "service": f.service,
        "operation": f.operation,
        "order_id": entry.order_id,
        "state": state,
        "attempts": entry.attempts,
        "last_error": error,
    }


class _MemoryBatch:
    def __init__(self, store: MemoryOrderStore, rows: list[_Entry]) -> None:
        self._store = store
        self._rows = {row.entry.id: row for row in rows}
        self.entries = [row.entry for row in rows]

    def _tried(self, entry: OutboxEntry) -> _Entry:
        """The entry's row, with this try counted (as every verdict counts one)."""
        row = self._rows[entry.id]
        row.entry = dataclasses.replace(entry, attempts=entry.attempts + 1)
        return row

    async def delivered(self, entry: OutboxEntry) -> None:
        self._tried(entry).state = "delivered"

    async def retry(self, entry: OutboxEntry, error: str, delay: float) -> None:
        row = self._tried(entry)
        row.due, row.error = self._store._clock() + delay, error

    async def dead(self, entry: OutboxEntry, reason: str) -> None:
        row = self._tried(entry)
        row.state, row.error = "dead", reason
