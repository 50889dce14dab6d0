"""Redis data-plane monitoring: saturation health every poll, usage by pattern in the background.

Health is cheap and asked for on every `/health/redis`: INFO (memory, clients, stats),
DBSIZE, a few PINGs, and the connection pool's own count. Usage by pattern walks the
keyspace with SCAN only (never KEYS): a Lua step SCANs and takes MEMORY USAGE (default
sampling) for as many keys as fit in `scan_budget_ms` of server time, so no command of the
monitor blocks Redis for long, and returns keys and sizes packed in one string. The next
step is sent before a reply is counted, so Redis and the counting overlap. Keys that expire
mid-scan are skipped; keys SCAN returns twice are counted once. Sampled mode draws
`sample_size` keys (short SCAN runs from random cursors; RANDOMKEY on cluster nodes) and
scales by DBSIZE. On a cluster every primary is scanned. The exact scan runs on an
interval and the health endpoint serves its cached result with `as_of`, so a health
request never scans.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import msgpack
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Gauge
from redis.asyncio.cluster import RedisCluster

from order_service.services.redis_analytics import (
    TTL_BUCKETS,
    Accumulator,
    History,
    PatternFigures,
    Snapshot,
    analytics_report,
)
from order_service.settings import RedisMonitorSettings

log = logging.getLogger("order_service.redis_monitor")
MB = 1024 * 1024

# Each step packs its keys and sizes with Redis's built-in cmsgpack: one bulk string is far
# cheaper to write and to read than thousands of reply elements.
_SCAN_STEP = """
local cursor = ARGV[1]
local budget = tonumber(ARGV[2])
local out, n = {}, 0
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
repeat
  local res = redis.call('SCAN', cursor, 'COUNT', 100)
  cursor = res[1]
  local keys = res[2]
  for i = 1, #keys do
    local size = redis.call('MEMORY', 'USAGE', keys[i])
    if size then
      out[n + 1], out[n + 2], out[n + 3], n = keys[i], size, redis.call('PTTL', keys[i]), n + 3
    end
  end
  local t = redis.call('TIME')
until cursor == '0' or (t[1] * 1000000 + t[2]) - start >= budget
return {cursor, n > 0 and cmsgpack.pack(out) or ''}
"""

# Sampling by runs of SCAN from random cursors: a cursor is a position in the key table and
# keys sit in the table by the hash of their name, so each run is a random sample of keys,
# about twice as cheap per key as RANDOMKEY. ARGV: wanted, budget, run length, start cursors.
_CURSOR_SAMPLE_STEP = """
local wanted = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local run = ARGV[3]
local out, n, drawn, i = {}, 0, 0, 4
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while drawn < wanted and ARGV[i] do
  local keys = redis.call('SCAN', ARGV[i], 'COUNT', run)[2]
  i = i + 1
  for j = 1, math.min(#keys, wanted - drawn) do
    drawn = drawn + 1
    local size = redis.call('MEMORY', 'USAGE', keys[j])
    if size then
      out[n + 1], out[n + 2], out[n + 3], n = keys[j], size, redis.call('PTTL', keys[j]), n + 3
    end
  end
  local t = redis.call('TIME')
  if (t[1] * 1000000 + t[2]) - start >= budget then break end
end
return {drawn, n > 0 and cmsgpack.pack(out) or ''}
"""

# Cluster nodes sample by RANDOMKEY: from Redis 7.4 a cluster node keeps one table per slot,
# hash-tagged keys share slots, and a random cursor would no longer be a random position.
_RANDOMKEY_SAMPLE_STEP = """
local wanted = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local out, n, drawn = {}, 0, 0
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while drawn < wanted do
  local key = redis.call('RANDOMKEY')
  if not key then break end
  drawn = drawn + 1
  local size = redis.call('MEMORY', 'USAGE', key)
  if size then
    out[n + 1], out[n + 2], out[n + 3], n = key, size, redis.call('PTTL', key), n + 3
  end
  if drawn % 100 == 0 then
    local t = redis.call('TIME')
    if (t[1] * 1000000 + t[2]) - start >= budget then break end
  end
end
return {drawn, n > 0 and cmsgpack.pack(out) or ''}
"""
_SAMPLE_CHUNK = 1_000  # draws asked of one sampling step (the budget may stop it sooner)
_SAMPLE_RUN = 20  # keys per SCAN run: shorter runs are more independent draws, longer ones cheaper


class RedisUsagePattern(StrEnum):
    IDEMPOTENCY = "idempotency"  # Duplicate order protection
    RATE_LIMITING = "rate_limiting"  # API rate limits
    CACHING = "caching"  # Performance cache
    REAL_TIME_DATA = "real_time_data"  # Live market data
    WORKER_COORDINATION = "worker_coordination"  # Background jobs
    OTHER = "other"  # keys no registered prefix claims


class PatternClassifier:
    """The usage pattern of a key: its longest registered prefix.

    Scans classify millions of keys, so answers are remembered per first segment (the key
    up to its first ':') whenever no longer registered prefix starts with that segment.
    """

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        known = {p.value for p in RedisUsagePattern}
        unknown = {v for v in prefixes.values() if v not in known}
        if unknown:
            raise ValueError(f"unknown usage patterns {sorted(unknown)}; known: {sorted(known)}")
        self._by_prefix = {p.encode(): v for p, v in prefixes.items()}
        self._lengths = sorted({len(p) for p in self._by_prefix}, reverse=True)
        self._memo: dict[bytes, str] = {}
        self._ambiguous = {p[: p.find(b":") + 1] for p in self._by_prefix if p.count(b":") > 1 or not p.endswith(b":")}

    @property
    def memo(self) -> Mapping[bytes, str]:
        """Patterns already known by a key's first segment (up to its first ':'): a fast path for scans."""
        return self._memo

    def classify(self, key: bytes) -> RedisUsagePattern:
        return RedisUsagePattern(self.pattern_of(key))

    def pattern_of(self, key: bytes) -> str:
        segment = key[: key.find(b":") + 1]
        found = self._memo.get(segment)
        if found is not None:
            return found
        for length in self._lengths:
            found = self._by_prefix.get(key[:length])
            if found is not None:
                break
        else:
            found = RedisUsagePattern.OTHER.value
        if segment and segment not in self._ambiguous and len(self._memo) < 10_000:
            self._memo[segment] = found
        return found


@dataclass(frozen=True)
class PatternUsage:
    key_count: int
    memory_bytes: int


@dataclass(frozen=True)
class UsageReport:
    mode: Literal["exact", "sampled"]
    as_of: datetime
    duration_s: float
    total_keys: int  # DBSIZE, summed over primaries
    used_memory_bytes: int  # INFO used_memory, summed over primaries
    patterns: dict[str, PatternUsage]
    keys_examined: int  # distinct keys measured (exact) or keys drawn (sampled)
    figures: Mapping[str, PatternFigures] = field(default_factory=dict)  # TTLs, largest keys, leaks

    @property
    def unattributed_bytes(self) -> int:
        """Memory no key accounts for: the server's own overhead, buffers, fragmentation."""
        return max(self.used_memory_bytes - sum(p.memory_bytes for p in self.patterns.values()), 0)


@dataclass(frozen=True)
class RedisHealth:
    is_healthy: bool
    memory_usage_percentage: float
    memory_limit: Literal["maxmemory", "system_memory", "unknown"]
    connection_pool_usage: float
    latency_ms: float
    total_keys: int
    used_memory_bytes: int
    warnings: list[str] = field(default_factory=list)
    critical_issues: list[str] = field(default_factory=list)


class MonitoredConnectionPool(aioredis.BlockingConnectionPool):
    """A blocking pool that counts the connections in use (redis-py keeps no public count)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_use = 0

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.in_use += 1
        return connection

    async def release(self, connection: Any) -> None:
        self.in_use -= 1
        await super().release(connection)

    def usage(self) -> float:
        return self.in_use / self.max_connections


Send = Callable[..., Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]


@contextlib.asynccontextmanager
async def _steps(node: aioredis.Redis) -> AsyncIterator[tuple[Send, Receive]]:
    """One connection for a run of script steps, so the next step can be sent before a reply is read."""
    pool = node.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]

    async def send(sha: str, *args: Any) -> None:
        await connection.send_command("EVALSHA", sha, 0, *args)

    try:
        yield send, connection.read_response
    except BaseException:
        await connection.disconnect()  # a step's reply may still be on its way: never reuse the connection
        raise
    finally:
        await pool.release(connection)


def _unpack(packed: bytes) -> tuple[list[bytes], list[int], list[int]]:
    """A step's keys, their sizes and their PTTLs (-1: no expiry)."""
    flat = msgpack.unpackb(packed, raw=True) if packed else []
    return flat[0::3], flat[1::3], flat[2::3]


class RedisUsageMonitor:
    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        settings: RedisMonitorSettings,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.perf_counter,
        rand_bits: Callable[[int], int] = random.getrandbits,
    ) -> None:
        self._client = client
        self._rand_bits = rand_bits
        self._settings = settings
        self._classifier = PatternClassifier(settings.prefixes)
        self._clock = clock
        self.latest: UsageReport | None = None
        registry = registry or CollectorRegistry()
        self._memory_gauge = Gauge(
            "redis_usage_memory_percentage", "Redis used memory, % of the limit.", registry=registry
        )
        self._keys_gauge = Gauge("redis_usage_pattern_keys", "Keys per usage pattern.", ["pattern"], registry=registry)
        self._bytes_gauge = Gauge(
            "redis_usage_pattern_bytes", "Bytes per usage pattern.", ["pattern"], registry=registry
        )
        self._share_gauge = Gauge(
            "redis_usage_pattern_memory_share",
            "Share of the keys' memory per pattern (0-1).",
            ["pattern"],
            registry=registry,
        )
        self._no_ttl_gauge = Gauge(
            "redis_usage_pattern_keys_without_ttl",
            "Keys without a TTL in patterns that should expire (a leak), per pattern.",
            ["pattern"],
            registry=registry,
        )
        self._ttl_gauge = Gauge(
            "redis_usage_pattern_ttl_keys", "Keys per pattern and TTL bucket.", ["pattern", "ttl"], registry=registry
        )
        self._growth_gauge = Gauge(
            "redis_usage_pattern_growth_keys_per_hour",
            "Keys gained per hour per pattern, between the oldest and newest scan kept.",
            ["pattern"],
            registry=registry,
        )
        self.history = History(settings.history_size)

    # -- nodes -----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _primaries(self) -> AsyncIterator[list[aioredis.Redis]]:
        """A client of every primary: the client itself, or one per primary of a cluster."""
        if not isinstance(self._client, RedisCluster):
            yield [self._client]
            return
        await self._client.initialize()
        nodes = [aioredis.Redis(host=n.host, port=int(n.port), socket_timeout=5) for n in self._client.get_primaries()]
        try:
            yield nodes
        finally:
            for node in nodes:
                await node.aclose()

    # -- health ------------------------------------------------------------------------------
    async def health(self, *, timeout: float = 0.9) -> RedisHealth:
        """Cheap saturation health; unreachable Redis is an answer (unhealthy), not an error."""
        try:
            return await asyncio.wait_for(self._health(), timeout)
        except (TimeoutError, aioredis.RedisError, OSError) as exc:
            reason = f"no answer within {timeout:.1f} s" if isinstance(exc, TimeoutError) else str(exc)
            return RedisHealth(
                False, 0.0, "unknown", self._pool_usage(), 0.0, 0, 0, [], [f"redis unreachable: {reason}"]
            )

    async def _health(self) -> RedisHealth:
        async with self._primaries() as nodes:
            return await self._health_of(nodes)

    async def _health_of(self, nodes: list[aioredis.Redis]) -> RedisHealth:
        used = limit = keys = 0
        system_limit = False
        latencies: list[float] = []
        for node in nodes:
            memory = await node.info("memory")
            keys += int(await node.dbsize())
            used += int(memory["used_memory"])
            node_limit = int(memory.get("maxmemory", 0))
            if node_limit == 0:  # no maxmemory: Redis can grow to the machine's memory
                node_limit = int(memory.get("total_system_memory", 0))
                system_limit = True
            limit += node_limit
            for _ in range(self._settings.ping_samples):
                began = time.perf_counter()
                await node.ping()
                latencies.append((time.perf_counter() - began) * 1000)
        percentage = round(100.0 * used / limit, 2) if limit else 0.0
        latency = statistics.median(latencies)
        pool = self._pool_usage()
        settings = self._settings
        warnings: list[str] = []
        critical: list[str] = []
        of_what = "total system memory (no maxmemory is set)" if system_limit else "maxmemory"
        if percentage >= settings.memory_critical * 100:
            critical.append(
                f"memory usage {percentage:.1f}% of {of_what} is at or above the critical threshold "
                f"of {settings.memory_critical * 100:.0f}%"
            )
        elif percentage >= settings.memory_warning * 100:
            warnings.append(
                f"memory usage {percentage:.1f}% of {of_what} is at or above the warning threshold "
                f"of {settings.memory_warning * 100:.0f}%"
            )
        if pool >= settings.pool_warning * 100:
            warnings.append(f"connection pool usage {pool:.1f}% is at or above {settings.pool_warning * 100:.0f}%")
        if latency >= settings.latency_warning_ms:
            warnings.append(f"PING latency {latency:.1f} ms is at or above {settings.latency_warning_ms:.0f} ms")
        self._memory_gauge.set(percentage)
        return RedisHealth(
            not critical,
            percentage,
            "system_memory" if system_limit else "maxmemory",
            pool,
            round(latency, 3),
            keys,
            used,
            warnings,
            critical,
        )

    def _pool_usage(self) -> float:
        pool = getattr(self._client, "connection_pool", None)
        return round(100.0 * pool.usage(), 1) if isinstance(pool, MonitoredConnectionPool) else 0.0

    # -- usage by pattern --------------------------------------------------------------------
    async def scan(self, mode: Literal["exact", "sampled", "auto"] | None = None) -> UsageReport:
        """Usage by pattern, exact or sampled (auto: exact up to `exact_up_to_keys`); cached as `latest`."""
        async with self._primaries() as nodes:
            return await self._scan(nodes, mode)

    async def _scan(self, nodes: list[aioredis.Redis], mode: Literal["exact", "sampled", "auto"] | None) -> UsageReport:
        began = self._clock()
        total_keys = sum([int(await node.dbsize()) for node in nodes])
        used = sum([int((await node.info("memory"))["used_memory"]) for node in nodes])
        chosen = mode or self._settings.mode
        if chosen == "auto":
            chosen = "exact" if total_keys <= self._settings.exact_up_to_keys else "sampled"
        total = self._accumulator()
        if chosen == "exact":
            examined = sum([await self._scan_node(node, total) for node in nodes])
        else:
            examined = 0
            for node in nodes:
                node_keys = int(await node.dbsize())
                share = max(1, round(self._settings.sample_size * node_keys / total_keys)) if total_keys else 0
                examined += await self._sample_node(node, share, node_keys, total)
        figures = total.figures
        patterns = {p: PatternUsage(round(f.key_count), round(f.memory_bytes)) for p, f in figures.items()}
        report = UsageReport(
            chosen, datetime.now(UTC), round(self._clock() - began, 3), total_keys, used, patterns, examined, figures
        )
        self.latest = report
        self.history.add(
            Snapshot(
                report.as_of,
                {p: f.key_count for p, f in figures.items()},
                {p: f.memory_bytes for p, f in figures.items()},
            )
        )
        self._set_gauges(report)
        return report

    def _accumulator(self) -> Accumulator:
        s = self._settings
        return Accumulator(
            self._classifier,
            [p.value for p in RedisUsagePattern],
            expiring=s.expiring_patterns,
            exempt=s.ttl_exempt,
            top=s.largest_keys,
        )

    def _set_gauges(self, report: UsageReport) -> None:
        total_bytes = sum(u.memory_bytes for u in report.patterns.values()) or 1
        for name, usage in report.patterns.items():
            figures = report.figures[name]
            self._keys_gauge.labels(name).set(usage.key_count)
            self._bytes_gauge.labels(name).set(usage.memory_bytes)
            self._share_gauge.labels(name).set(usage.memory_bytes / total_bytes)
            self._no_ttl_gauge.labels(name).set(round(figures.without_ttl))
            for bucket, count in zip(TTL_BUCKETS, figures.ttl, strict=True):
                self._ttl_gauge.labels(name, bucket).set(round(count))
            growth = self.history.growth(name)
            self._growth_gauge.labels(name).set(growth["keys_per_hour"] if growth else 0)

    async def _scan_node(self, node: aioredis.Redis, total: Accumulator) -> int:
        sha = await node.script_load(_SCAN_STEP)
        budget = int(self._settings.scan_budget_ms * 1000)
        seen: set[int] = set()  # hashes of keys already counted: SCAN may return a key twice
        async with _steps(node) as (send, receive):
            await send(sha, "0", budget)
            while True:
                cursor, packed = await receive()
                done = cursor in (b"0", "0")
                if not done:  # Redis runs the next step while this one is counted here
                    await send(sha, cursor, budget)
                keys, key_sizes, ttls = _unpack(packed)
                fingerprints = set(map(hash, keys))
                if len(fingerprints) == len(keys) and seen.isdisjoint(fingerprints):
                    seen |= fingerprints  # the usual case: no key seen before
                    total.add(keys, key_sizes, ttls)
                else:
                    for key, size, ttl in zip(keys, key_sizes, ttls, strict=True):
                        if hash(key) not in seen:
                            seen.add(hash(key))
                            total.add([key], [size], [ttl])
                if done:
                    return len(seen)

    async def _sample_node(self, node: aioredis.Redis, wanted: int, node_keys: int, total: Accumulator) -> int:
        by_cursor = not isinstance(self._client, RedisCluster)
        sha = await node.script_load(_CURSOR_SAMPLE_STEP if by_cursor else _RANDOMKEY_SAMPLE_STEP)
        budget = int(self._settings.scan_budget_ms * 1000)
        sample = self._accumulator()
        drawn, empty = 0, False
        asked: collections.deque[int] = collections.deque()  # sizes of the steps in flight, in order
        async with _steps(node) as (send, receive):

            async def ask() -> None:
                size = min(_SAMPLE_CHUNK, wanted - drawn - sum(asked))
                # Twice the cursors a step needs: a run that reaches the end of the table is short.
                runs = 2 * size // _SAMPLE_RUN + 2
                starts = [_SAMPLE_RUN, *(str(self._rand_bits(64)) for _ in range(runs))] if by_cursor else []
                await send(sha, size, budget, *starts)
                asked.append(size)

            for _ in range(2):  # two steps in flight: the steps do not depend on each other
                if wanted - drawn - sum(asked) > 0:
                    await ask()
            while asked:
                step_drawn, packed = await receive()
                asked.popleft()
                drawn += int(step_drawn)
                empty = empty or int(step_drawn) == 0
                if not empty and wanted - drawn - sum(asked) > 0:
                    await ask()
                sample.add(*_unpack(packed))
        if drawn:
            sample.scale(node_keys / drawn)
            total.merge(sample)
        return drawn

    async def run(self, *, stop: asyncio.Event) -> None:
        """Scan every `scan_interval` seconds until `stop` is set; a failed scan is logged and retried."""
        while not stop.is_set():
            try:
                await self.scan()
            except (aioredis.RedisError, OSError) as exc:
                log.warning("REDIS_USAGE_SCAN_FAILED: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.scan_interval)

    # -- the compliance document's response format ----------------------------------------
    async def health_report(self) -> tuple[int, dict[str, Any]]:
        """(status code, body) of `GET /health/redis`: 200 when healthy, 503 when not."""
        health = await self.health()
        report = self.latest
        patterns = report.patterns if report else {}
        body: dict[str, Any] = {
            "status": "healthy" if health.is_healthy else "unhealthy",
            "redis_health": {
                "is_healthy": health.is_healthy,
                "memory_usage_percentage": health.memory_usage_percentage,
                "memory_limit": health.memory_limit,
                "connection_pool_usage": health.connection_pool_usage,
                "latency_ms": health.latency_ms,
                "warnings": health.warnings,
                "critical_issues": health.critical_issues,
            },
            "redis_usage": {
                "total_keys": report.total_keys if report else health.total_keys,
                "total_memory_mb": round((report.used_memory_bytes if report else health.used_memory_bytes) / MB, 2),
                "patterns": {
                    name: {"key_count": usage.key_count, "memory_usage_mb": round(usage.memory_bytes / MB, 3)}
                    for name, usage in patterns.items()
                    if usage.key_count
                },
                "unattributed_memory_mb": round(report.unattributed_bytes / MB, 2) if report else None,
                "mode": report.mode if report else None,
                "keys_examined": report.keys_examined if report else 0,
                "as_of": report.as_of.isoformat(timespec="seconds") if report else None,
            },
        }
        return (200 if health.is_healthy else 503), body

    def analytics(self) -> tuple[int, dict[str, Any]]:
        """(status code, body) of `GET /health/redis/analytics`: the latest scan's analytics (503 before one)."""
        report = self.latest
        if report is None:
            return 503, {"error": "unavailable", "message": "no usage scan has finished yet; one runs at start"}
        body = {
            "as_of": report.as_of.isoformat(timespec="seconds"),
            "mode": report.mode,
            "duration_s": report.duration_s,
            "total_keys": report.total_keys,
            "used_memory_mb": round(report.used_memory_bytes / MB, 2),
            "keys_examined": report.keys_examined,
            **analytics_report(
                report.figures, self.history, sampled=report.mode == "sampled", top=self._settings.largest_keys
            ),
        }
        return 200, body
