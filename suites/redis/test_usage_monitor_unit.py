"""The usage monitor's classification, scan bookkeeping and response format, without a server."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from order_service import keys
from order_service.services.redis_usage_monitor import (
    PatternClassifier,
    RedisHealth,
    RedisUsageMonitor,
    RedisUsagePattern,
)
from order_service.settings import RedisMonitorSettings

pytestmark = pytest.mark.anyio


def test_the_registry_covers_every_prefix_the_order_service_writes() -> None:
    classifier = PatternClassifier(RedisMonitorSettings().prefixes)
    written = {
        keys.IDEMPOTENCY: RedisUsagePattern.IDEMPOTENCY,
        keys.REPLAY: RedisUsagePattern.IDEMPOTENCY,
        keys.RATE_LIMIT: RedisUsagePattern.RATE_LIMITING,
        keys.ANOMALY: RedisUsagePattern.RATE_LIMITING,
        keys.CACHE: RedisUsagePattern.CACHING,
        keys.MARKET: RedisUsagePattern.REAL_TIME_DATA,
        keys.LOCK: RedisUsagePattern.WORKER_COORDINATION,
        keys.QUEUE: RedisUsagePattern.WORKER_COORDINATION,
        keys.OUTBOX: RedisUsagePattern.WORKER_COORDINATION,
    }
    for prefix, pattern in written.items():
        assert classifier.classify(f"{prefix}:anything".encode()) is pattern


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        (b"cache:strategy:42", RedisUsagePattern.CACHING),
        (b"cache:hot:ZX1234", RedisUsagePattern.REAL_TIME_DATA),  # the longer prefix wins
        (b"cache:hotel", RedisUsagePattern.CACHING),
        (b"cachex:1", RedisUsagePattern.OTHER),
        (b"session:1", RedisUsagePattern.OTHER),
        (b"", RedisUsagePattern.OTHER),
        (b"\xff\xfe:1", RedisUsagePattern.OTHER),
    ],
)
def test_longest_prefix_wins_and_unknown_keys_are_other(key: bytes, pattern: RedisUsagePattern) -> None:
    classifier = PatternClassifier({"cache:": "caching", "cache:hot:": "real_time_data"})
    for _ in range(2):  # the second answer comes from the memo
        assert classifier.classify(key) is pattern


def test_an_unknown_pattern_in_settings_is_refused() -> None:
    with pytest.raises(ValueError, match="cold_storage"):
        PatternClassifier({"x:": "cold_storage"})


class FakeConnection:
    """Answers each EVALSHA with the next canned step, packed as the scan script packs it."""

    def __init__(self, steps: list[list[Any]]) -> None:
        self._steps = iter(steps)
        self._sent = 0

    async def send_command(self, *_: Any) -> None:
        self._sent += 1

    async def read_response(self) -> list[Any]:
        assert self._sent > 0, "a reply was read before its step was sent"
        self._sent -= 1
        cursor, *flat = next(self._steps)
        return [cursor, msgpack.packb(flat) if flat else b""]

    async def disconnect(self) -> None:
        pass


class FakeNode:
    """A node whose scan steps are canned replies: a key twice, an expired key skipped by the script."""

    def __init__(self, steps: list[list[Any]]) -> None:
        self.connection_pool = self
        self._connection = FakeConnection(steps)

    async def dbsize(self) -> int:
        return 4

    async def info(self, section: str) -> dict[str, int]:
        return {"used_memory": 10_000}

    async def script_load(self, _source: str) -> str:
        return "sha"

    async def get_connection(self) -> FakeConnection:
        return self._connection

    async def release(self, _connection: FakeConnection) -> None:
        pass


async def test_a_key_scan_returns_twice_is_counted_once() -> None:
    node = FakeNode(
        [
            [b"17", b"cache:a", 100, 5000, b"idempotency:x", 50, -1],  # key, size, PTTL
            [b"0", b"cache:a", 100, 5000, b"queue:j", 70, -1],  # cache:a again, as SCAN may do while the table shrinks
        ]
    )
    monitor = RedisUsageMonitor(node, RedisMonitorSettings())  # type: ignore[arg-type]
    report = await monitor._scan([node], "exact")  # type: ignore[list-item]
    assert report.keys_examined == 3
    assert report.patterns["caching"].key_count == 1
    assert report.patterns["caching"].memory_bytes == 100
    assert report.patterns["worker_coordination"].memory_bytes == 70
    assert report.unattributed_bytes == 10_000 - 220
    assert report.figures["caching"].ttl == [0, 1, 0, 0, 0]  # counted once in its TTL bucket too
    assert report.figures["idempotency"].without_ttl == 1


async def test_the_health_response_is_the_compliance_document_format(monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode([[b"0", b"idempotency:1", 2_097_152, 60_000]])
    monitor = RedisUsageMonitor(node, RedisMonitorSettings())  # type: ignore[arg-type]
    await monitor._scan([node], "exact")  # type: ignore[list-item]

    async def unhealthy(**_: object) -> RedisHealth:
        return RedisHealth(False, 96.4, "maxmemory", 45.0, 0.4, 4, 10_000, [], ["memory usage 96.4% ..."])

    monkeypatch.setattr(monitor, "health", unhealthy)
    status, body = await monitor.health_report()
    assert status == 503
    assert body["status"] == "unhealthy"
    assert set(body) == {"status", "redis_health", "redis_usage"}
    assert {"is_healthy", "memory_usage_percentage", "connection_pool_usage", "warnings", "critical_issues"} <= set(
        body["redis_health"]
    )
    assert {"total_keys", "total_memory_mb", "patterns"} <= set(body["redis_usage"])
    assert body["redis_usage"]["patterns"] == {"idempotency": {"key_count": 1, "memory_usage_mb": 2.0}}
    assert body["redis_usage"]["as_of"] is not None
