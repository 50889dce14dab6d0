"""The nemesis: a fault schedule drawn from a seed, applied to a stack, logged to be replayed.

One fault at a time, each held for its duration and then healed, with a quiet gap after
it; the schedule ends a few seconds before the workload does, so the round ends healed.
The log (`faults.jsonl`) holds each fault's kind, planned offset, duration and details, and
the wall-clock window in which it held: given back as a schedule it replays the round's
faults (the workload's own draws follow from the seed).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import redis

from harness.chaos.history import FaultRecord
from harness.chaos.stack import Stack

KINDS = (
    "kill-replica",
    "kill-owner",
    "redis-restart-empty",
    "redis-restart-aof",
    "redis-pause",
    "postgres-fast",
    "postgres-immediate",
    "latency-redis",
    "latency-postgres",
    "latency-owner",
    "stall-redis",
    "stall-postgres",
    "stall-owner",
    "cut-redis",
    "cut-postgres",
    "cut-owner",
    "owner-latency",
    "apply-then-drop",
)
# Only where the stack runs its servers on a second host (harness.chaos.netns): iptables drops.
PARTITIONS = ("partition-redis", "partition-postgres", "partition-owner")
HEAL_MARGIN_S = 8.0  # the last fault ends this long before the workload does
OWNER_DELAY_S = 2.5
SYNC = "syncStrategyPnl"


def draw_schedule(seed: int, seconds: float, kinds: Sequence[str] = KINDS) -> list[FaultRecord]:
    """The faults of a round of `seconds`, drawn from `seed` (the same seed, the same schedule)."""
    rng = random.Random(seed)
    schedule: list[FaultRecord] = []
    at = rng.uniform(2.0, 4.0)
    while True:
        kind = rng.choice(list(kinds))
        duration = round(rng.uniform(1.0, 4.0), 2)
        if at + duration > seconds - HEAL_MARGIN_S:
            return schedule
        detail: dict[str, Any] = {}
        if kind == "kill-replica":
            detail["replica"] = rng.randrange(2)
        elif kind.startswith("latency-"):
            detail["delay_s"] = round(rng.uniform(0.05, 0.5), 3)
        elif kind == "owner-latency":
            detail["delay_s"] = OWNER_DELAY_S
        elif kind == "apply-then-drop":
            detail["seed"] = rng.randrange(1 << 30)
        schedule.append(FaultRecord(kind, round(at, 2), duration, detail=detail))
        at += duration + rng.uniform(1.0, 3.0)


class Nemesis:
    """Applies a schedule to a stack; `log` holds what was applied, with its wall-clock window."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.log: list[FaultRecord] = []

    async def run(self, schedule: Sequence[FaultRecord], began: float) -> None:
        """Apply each fault at its offset from `began` (monotonic), hold it, heal it."""
        for planned in schedule:
            await asyncio.sleep(max(0.0, began + planned.at - time.monotonic()))
            fault = FaultRecord(planned.kind, planned.at, planned.duration, detail=dict(planned.detail))
            asked = time.time()
            heal = await asyncio.to_thread(self._apply, fault)
            fault.start = time.time()  # the window is when the fault certainly held: applied, not yet healing
            await asyncio.sleep(fault.duration)
            fault.end = time.time()
            if fault.kind == "redis-pause":  # it ends by itself, counted from when it was asked for
                fault.end = min(fault.end, asked + fault.duration)
            await asyncio.to_thread(heal)
            self.log.append(fault)

    def _apply(self, fault: FaultRecord) -> Callable[[], None]:
        """Apply one fault now; returns what heals it."""
        kind, stack = fault.kind, self.stack
        if kind == "kill-replica":
            replica = stack.replicas[int(fault.detail["replica"])]
            replica.kill()
            return replica.start
        if kind == "kill-owner":
            owner = stack.mocks["strategy-service"]
            owner.kill()
            return owner.start
        if kind in ("redis-restart-empty", "redis-restart-aof"):
            stack.redis.kill()
            return lambda: stack.redis_restart(keep_data=kind == "redis-restart-aof")
        if kind == "redis-pause":
            with redis.Redis(host=stack.redis_host, port=stack.redis_port) as client:
                client.execute_command("CLIENT", "PAUSE", int(fault.duration * 1000), "ALL")
            return lambda: None  # the pause ends by itself
        if kind in ("postgres-fast", "postgres-immediate"):
            stack.postgres.stop("fast" if kind == "postgres-fast" else "immediate")
            return stack.postgres.start
        link, _, target = kind.partition("-")
        if link == "partition" and stack.host is not None and target in stack.proxies:
            port = stack.ports[target]
            stack.host.partition(port)
            return lambda: stack.host.heal(port) if stack.host else None
        if link in ("latency", "stall", "cut") and target in stack.proxies:
            return self._link(link, target, fault)
        if kind in ("owner-latency", "apply-then-drop"):
            return self._owner_fault(fault)
        raise ValueError(f"unknown fault kind {kind!r} (or not on this stack); known: {', '.join(KINDS + PARTITIONS)}")

    def _link(self, link: str, target: str, fault: FaultRecord) -> Callable[[], None]:
        proxy = self.stack.proxies[target]
        if link == "latency":
            proxy.latency(float(fault.detail["delay_s"]))
        elif link == "stall":
            proxy.stall()
        else:
            proxy.cut()
        return proxy.heal

    def _owner_fault(self, fault: FaultRecord) -> Callable[[], None]:
        if fault.kind == "owner-latency":
            spec: dict[str, Any] = {"kind": "latency", "delay_ms": float(fault.detail["delay_s"]) * 1000}
        else:  # the owner applies the write and the answer is lost, for half of the writes
            spec = {"kind": "drop_after", "probability": 0.5, "seed": int(fault.detail["seed"])}
        url = self.stack.owner_url + "/__admin/faults"
        added = httpx.post(url, json={**spec, "operation_id": SYNC}, timeout=10)
        added.raise_for_status()
        fault_id = added.json()["id"]

        def heal() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the owner was restarted meanwhile: its faults went with it
                httpx.delete(f"{url}/{fault_id}", timeout=10)

        return heal


async def run_nemesis(stack: Stack, schedule: Sequence[FaultRecord], began: float) -> list[FaultRecord]:
    """Apply `schedule` to `stack`; the log of what was applied."""
    nemesis = Nemesis(stack)
    await nemesis.run(schedule, began)
    return nemesis.log
