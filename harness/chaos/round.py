"""One crash round: start the stack, run the workload and the nemesis together, heal, check, report.

The round's folder keeps everything for reading afterwards: `history.jsonl` (every call),
`faults.jsonl` (every fault, replayable with `--schedule`), `report.txt` and `report.json`,
the owner's ledger and each process's log.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from harness.chaos import netns
from harness.chaos.checker import Stores, Verdict, check
from harness.chaos.history import Call, FaultRecord, write_lines
from harness.chaos.nemesis import KINDS, PARTITIONS, draw_schedule, run_nemesis
from harness.chaos.stack import REFERENCE_COMMAND, Stack, start_stack, wait_healed
from harness.chaos.workload import WorkloadConfig, run_workload
from mocks.ledger import read_ledger

ACCOUNTS = ("ZX1234", "ZX5678")


@dataclass(frozen=True)
class StoreQueries:
    """How the checker reads the order service's database: four SELECTs and the columns they give.

    The defaults read the reference implementation's schema. An order service with tables of
    its own gives its own (`harness chaos --store-queries FILE`, a JSON object of these four):
    orders: order_id, account, status, strategy_id, tag, filled_quantity (one row per order);
    keys: key, order_id (NULL while a key is claimed and nothing placed);
    outbox: key, state, order_id (one row per follow-up write of a fill);
    pending: one number, the follow-up writes not yet delivered.
    """

    orders: str = (
        "SELECT order_id, account, status, strategy_id, body->>'tag' AS tag, "
        "(body->>'filled_quantity')::bigint AS filled_quantity FROM order_service.orders"
    )
    keys: str = "SELECT key, order_id FROM order_service.idempotency_keys"
    outbox: str = "SELECT idempotency_key AS key, state, order_id FROM order_service.outbox"
    pending: str = "SELECT count(*) FROM order_service.outbox WHERE state = 'pending'"


def load_store_queries(path: Path) -> StoreQueries:
    """The queries of a JSON file (any of the four; the others keep their defaults).

    Raises:
        ValueError: naming the file and what is wrong in it.
    """
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the store queries: {exc}") from exc
    known = set(StoreQueries.__dataclass_fields__)
    if not isinstance(given, dict) or not set(given) <= known or not all(isinstance(v, str) for v in given.values()):
        raise ValueError(f"{path}: store queries are an object of SQL strings named {', '.join(sorted(known))}")
    return StoreQueries(**given)


DRAIN_S = 90.0  # how long the relay may take to deliver what waited in the outbox after healing


@dataclass(frozen=True)
class RoundConfig:
    """What a round runs: its seed and length, its clients, where it keeps its files."""

    seed: int
    seconds: float
    folder: Path
    clients: int = 6
    replica_command: Sequence[str] = REFERENCE_COMMAND
    schedule: Sequence[FaultRecord] | None = None  # None: drawn from the seed
    kinds: Sequence[str] = KINDS
    partitions: str = "auto"  # "on": a second host or an error; "off": loopback; "auto": where root allows
    queries: StoreQueries = StoreQueries()


@dataclass
class Report:
    """A round's figures and verdict."""

    seed: int
    seconds: float
    calls: list[Call]
    faults: list[FaultRecord]
    verdict: Verdict
    drained: bool
    figures: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The report as people read it."""
        f = self.figures
        lines = [
            f"crash round: seed {self.seed}, {self.seconds:.0f} s, {f['clients']} clients, 2 replicas",
            f"  operations: {len(self.calls)} calls "
            + ", ".join(f"{kind} {count}" for kind, count in sorted(f["by_kind"].items())),
            "  outcomes: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(f["by_outcome"].items())),
            f"  unknown outcomes resolved: {self.verdict.unknown_applied} placed, "
            f"{self.verdict.unknown_not_applied} not placed",
            f"  faults: {len(self.faults)} " + ", ".join(f"{k} {n}" for k, n in sorted(f["faults"].items())),
            f"  order acknowledgements: p50 {f['ack_p50_ms']:.1f} ms, p99 {f['ack_p99_ms']:.1f} ms during faults; "
            f"p50 {f['calm_p50_ms']:.1f} ms, p99 {f['calm_p99_ms']:.1f} ms without",
            f"  partitions: {f['partitions']}",
            f"  outbox drained after healing: {'yes' if self.drained else 'NO'}",
            f"  violations: {len(self.verdict.violations)}",
        ]
        lines += [f"    {violation}" for violation in self.verdict.violations]
        return "\n".join(lines)


def summary(reports: Sequence[Report]) -> str:
    """What a run of several rounds adds up to: rounds, operations, faults by kind, violations, latencies."""
    calls = [c for r in reports for c in r.calls]
    faults = [f for r in reports for f in r.faults]
    split = [_ack_latencies(r.calls, r.faults) for r in reports]
    during = [latency for d, _ in split for latency in d]
    calm = [latency for _, c in split for latency in c]
    (d50, d99), (c50, c99) = _percentiles(during), _percentiles(calm)
    kinds = Counter(f.kind for f in faults)
    violations = sum(len(r.verdict.violations) for r in reports)
    return "\n".join(
        [
            f"chaos: {len(reports)} round(s), {sum(r.seconds for r in reports):.0f} s of workload, "
            f"seeds {', '.join(str(r.seed) for r in reports)}",
            f"  operations: {len(calls)}; acknowledged orders: {len(during) + len(calm)}",
            f"  faults: {len(faults)} (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")",
            f"  order acknowledgements during faults: p50 {d50:.1f} ms, p99 {d99:.1f} ms ({len(during)}); "
            f"without: p50 {c50:.1f} ms, p99 {c99:.1f} ms ({len(calm)})",
            f"  violations: {violations}",
        ]
    )


def _ack_latencies(calls: Sequence[Call], faults: Sequence[FaultRecord]) -> tuple[list[float], list[float]]:
    """Latencies of acknowledged orders sent during a fault, and of those sent without one."""
    during: list[float] = []
    calm: list[float] = []
    for call in calls:
        if call.kind == "place" and call.outcome == "ok":
            faulted = any(f.start <= call.start <= f.end for f in faults)
            (during if faulted else calm).append(call.latency)
    return during, calm


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    if len(latencies) < 2:
        only = latencies[0] * 1000 if latencies else 0.0
        return only, only
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def _figures(calls: list[Call], faults: list[FaultRecord], clients: int) -> dict[str, Any]:
    during, calm = _ack_latencies(calls, faults)
    ack_p50, ack_p99 = _percentiles(during)
    calm_p50, calm_p99 = _percentiles(calm)
    return {
        "clients": clients,
        "by_kind": dict(Counter(c.kind for c in calls)),
        "by_outcome": dict(Counter(c.outcome for c in calls)),
        "faults": dict(Counter(f.kind for f in faults)),
        "ack_p50_ms": ack_p50,
        "ack_p99_ms": ack_p99,
        "calm_p50_ms": calm_p50,
        "calm_p99_ms": calm_p99,
        "acks_during_faults": len(during),
        "acks_calm": len(calm),
    }


async def read_stores(database_url: str, ledger: Path, queries: StoreQueries | None = None) -> Stores:
    """What the order service's database (read by `queries`) and the owner's ledger hold."""
    queries = queries or StoreQueries()
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        orders = await connection.fetch(queries.orders)
        keys = await connection.fetch(queries.keys)
        outbox = await connection.fetch(queries.outbox)
    finally:
        await connection.close()
    return Stores(
        orders={row["order_id"]: dict(row) for row in orders},
        keys={row["key"]: row["order_id"] for row in keys},
        outbox=[dict(row) for row in outbox],
        applied=[(applied.operation_id, applied.key) for applied in read_ledger(ledger)],
    )


async def _drained(database_url: str, timeout: float, queries: StoreQueries) -> bool:
    """Wait until no outbox entry is pending (True), or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            pending = await connection.fetchval(queries.pending)
        finally:
            await connection.close()
        if pending == 0:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)


async def _run(config: RoundConfig, stack: Stack, kinds: Sequence[str]) -> tuple[list[Call], list[FaultRecord]]:
    from order_service.security.dev import dev_signer, dev_user_token

    workload = WorkloadConfig(
        stack.replica_urls, ACCOUNTS, clients=config.clients, seconds=config.seconds, seed=config.seed
    )
    schedule = config.schedule if config.schedule is not None else draw_schedule(config.seed, config.seconds, kinds)
    token = dev_user_token(accounts=ACCOUNTS, ttl=int(config.seconds) + 3600)
    began = time.monotonic()
    calls, faults = await asyncio.gather(run_workload(workload, dev_signer, token), run_nemesis(stack, schedule, began))
    return calls, faults


def _second_host(mode: str) -> tuple[netns.Host | None, str]:
    """The round's second host (or None) and what the report says of partitions."""
    if mode == "off":
        return None, "off (--partitions off)"
    why = netns.available()
    if why is not None:
        if mode == "on":
            raise netns.NamespaceUnavailable(f"--partitions on, but {why}")
        return None, f"not available here: {why}"
    host = netns.Host.create()
    return host, f"iptables in namespace {host.name} ({host.address})"


def run_round(config: RoundConfig) -> Report:
    """Run one round in `config.folder`; the report is also written there."""
    host, partitions = _second_host(config.partitions)
    kinds = [*config.kinds, *(PARTITIONS if host else ())]
    stack = start_stack(config.folder, config.replica_command, host=host)
    try:
        calls, faults = asyncio.run(_run(config, stack, kinds))
        for proxy in stack.proxies.values():
            proxy.heal()
        wait_healed(stack)
        drained = asyncio.run(_drained(stack.database_url, DRAIN_S, config.queries))
        stores = asyncio.run(read_stores(stack.database_url, stack.owner_ledger, config.queries))
    finally:
        stack.stop()
    verdict = check(calls, faults, stores)
    figures = {**_figures(calls, faults, config.clients), "partitions": partitions}
    report = Report(config.seed, config.seconds, calls, faults, verdict, drained, figures)
    write_lines(config.folder / "history.jsonl", calls)
    write_lines(config.folder / "faults.jsonl", faults)
    (config.folder / "report.txt").write_text(report.text() + "\n")
    summary = {
        "seed": config.seed,
        "seconds": config.seconds,
        "drained": drained,
        "figures": report.figures,
        "unknown_applied": verdict.unknown_applied,
        "unknown_not_applied": verdict.unknown_not_applied,
        "violations": [asdict(v) for v in verdict.violations],
    }
    (config.folder / "report.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return report
