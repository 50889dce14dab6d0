"""The relay of the order store's outbox: follow-up writes delivered to their owners, each once.

Each round claims due entries (`OrderStore.outbox_batch`: the oldest pending entry of each
partition, locked so other replicas skip it), delivers them concurrently through the
owners' clients with each entry's Idempotency-Key, and records one verdict per entry:
delivered; refused by the owner (a dead letter, kept with the reason); or unavailable
(tried again after a backoff that doubles up to `backoff_max`). A replica that dies
mid-round delivered nothing it recorded; the owner's idempotency makes the repeat harmless.

It logs changes of state (an owner stops answering, answers again; the store goes away,
comes back), not every failed round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping

from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, Gauge

from order_service import tracing
from order_service.errors import StoreError
from order_service.fallbacks.outbox import Deliver, Delivery, OutboxItem
from order_service.metrics import ClientMetrics
from order_service.orders.store import OrderStore, OutboxBatch, OutboxEntry

log = logging.getLogger("order_service.relay")


class FollowUpRelay:
    """Delivers the store's outbox (see the module doc); `run` until stopped, or `deliver_due` once."""

    def __init__(
        self,
        store: OrderStore,
        deliverers: Mapping[str, Deliver],
        *,
        registry: CollectorRegistry | None = None,
        metrics: ClientMetrics | None = None,
        batch: int = 50,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
    ) -> None:
        self._store = store
        self._metrics = metrics  # service_client_outbox_delivered_total counts the verdicts
        self._deliverers = dict(deliverers)
        self._batch = batch
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._settled = 0  # entries delivered or dead so far
        self._wake = asyncio.Event()
        self._failing: set[str] = set()  # owners whose last delivery failed (a change of state is logged)
        self._store_away = False
        self.entries = Gauge(
            "order_service_outbox_entries",
            "Follow-up writes in the order store's outbox, by owner and state (pending, dead).",
            ["service", "state"],
            registry=registry,
        )

    def wake(self) -> None:
        """Deliver soon: a new follow-up was committed."""
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try of an entry that failed `attempts` + 1 times."""
        return float(min(self._backoff_max, self._backoff_base * 2**attempts))

    async def deliver_due(self) -> int:
        """One round: deliver what is due now; return how many entries got a verdict."""
        async with self._store.outbox_batch(self._batch) as batch:
            if not batch.entries:
                return 0
            results = await asyncio.gather(*(self._attempt(entry) for entry in batch.entries))
            for entry, (result, detail) in zip(batch.entries, results, strict=True):
                parent = tracing.parent_from(entry.follow_up.traceparent)
                with tracing.span("store outbox_verdict", {"outbox.entry": entry.id}, parent=parent):
                    await self._record(batch, entry, result, detail)  # one connection: one statement at a time
        return len(batch.entries)

    async def _attempt(self, entry: OutboxEntry) -> tuple[Delivery, str]:
        deliver = self._deliverers.get(entry.follow_up.service)
        if deliver is None:
            return "rejected", f"no client delivers to {entry.follow_up.service}"
        f = entry.follow_up
        item = OutboxItem(f.service, f.operation, f.method, f.path, f.body, f.idempotency_key, id=str(entry.id))
        attributes = {
            "outbox.entry": entry.id,
            "outbox.attempt": entry.attempts + 1,
            "order.id": entry.order_id,
            "peer.service": f.service,
            "rpc.method": f.operation,
        }
        # a child of the request that wrote the entry: one order's trace shows its delivery too
        with tracing.span("outbox deliver", attributes, parent=tracing.parent_from(f.traceparent)) as span:
            try:
                result = await deliver(item)
            except Exception as exc:  # a client bug must not stop the other entries' verdicts
                result = "unavailable", f"{type(exc).__name__}: {exc}"
            if span is not None:
                span.set_attribute("outbox.result", result[0])
                if result[0] != "delivered":
                    span.set_status(StatusCode.ERROR, result[1][:200])
            return result

    async def _record(self, batch: OutboxBatch, entry: OutboxEntry, result: Delivery, detail: str) -> None:
        service = entry.follow_up.service
        if self._metrics is not None and result != "unavailable":
            self._metrics.outbox_delivered.labels(service, "delivered" if result == "delivered" else "dead").inc()
        if result != "unavailable":
            self._settled += 1
        if result == "delivered":
            await batch.delivered(entry)
            if service in self._failing:
                self._failing.discard(service)
                log.warning("OUTBOX_DELIVERY_RESUMED %s answers again", service)
        elif result == "rejected":
            log.error(
                "OUTBOX_DEAD_LETTER %s %s entry %s (order %s) refused: %s",
                service,
                entry.follow_up.operation,
                entry.id,
                entry.order_id,
                detail,
            )
            await batch.dead(entry, detail)
        else:
            if service not in self._failing:
                log.warning("OUTBOX_DELIVERY_PAUSED %s: %s (kept, tried again with backoff)", service, detail)
            self._failing.add(service)
            await batch.retry(entry, detail, self.backoff(entry.attempts))

    async def refresh_gauges(self) -> dict[str, dict[str, int]]:
        """Set the entry gauges from the store (every known owner, zero included); return the counts."""
        counts = await self._store.outbox_counts()
        for service in sorted(set(self._deliverers) | set(counts)):
            for state in ("pending", "dead"):
                self.entries.labels(service, state).set(counts.get(service, {}).get(state, 0))
        return counts

    async def run(self, interval: float, *, stop: asyncio.Event, gather: float = 0.02) -> None:
        """Deliver rounds until `stop`: at once while rounds are full, else after `interval` or a `wake`.

        After a wake it waits `gather` seconds first, so the follow-ups of many orders share a round.
        """
        while not stop.is_set():
            self._wake.clear()  # before the round: a wake during it starts the next one
            delivered = 0
            settled = self._settled
            try:
                delivered = await self.deliver_due()
                await self.refresh_gauges()
                if self._store_away:
                    self._store_away = False
                    log.warning("OUTBOX_STORE_RESUMED the order store answers again")
            except StoreError as exc:
                if not self._store_away:
                    self._store_away = True
                    log.error("OUTBOX_STORE_UNAVAILABLE the relay waits for the order store: %s", exc)
            except Exception:  # a relay that dies silently would keep writes forever
                log.exception("the outbox relay failed; it tries again in %.1f s", interval)
            if delivered >= self._batch or self._settled > settled:
                # more are due: a full round left some, or a partition's head was settled and the
                # entry behind it waits (a backlog of one strategy drains at once, not one a round)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop.wait(), self._wake.wait()), interval)
            if self._wake.is_set() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), gather)


async def _first(*waits: Awaitable[bool]) -> None:
    """Return when the first of `waits` is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
