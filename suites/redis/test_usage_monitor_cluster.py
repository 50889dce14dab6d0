"""On Redis Cluster the usage scan covers every primary."""

from __future__ import annotations

import pytest
import redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from order_service.services.redis_usage_monitor import RedisUsageMonitor
from order_service.settings import RedisMonitorSettings

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_the_scan_covers_every_primary(redis_cluster: list[tuple[str, int]]) -> None:
    client = RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in redis_cluster])
    try:
        await client.flushall()
        for n in range(600):
            await client.set(f"idempotency:order-{n}", "x")
        for n in range(150):
            await client.set(f"market:ltp:{n}", "1532.10")
        per_node = [redis.Redis(host=h, port=p).dbsize() for h, p in redis_cluster]
        monitor = RedisUsageMonitor(client, RedisMonitorSettings())
        exact = await monitor.scan("exact")
        sampled = await monitor.scan("sampled")
        health = await monitor.health()
    finally:
        await client.aclose()
    assert all(count > 0 for count in per_node)  # the keys really are spread over the three primaries
    assert sum(per_node) == 750
    assert exact.total_keys == 750
    assert exact.patterns["idempotency"].key_count == 600
    assert exact.patterns["real_time_data"].key_count == 150
    assert sampled.total_keys == 750
    assert sampled.keys_examined == 40_000  # RANDOMKEY draws on each primary, in proportion to its keys
    assert abs(sampled.patterns["idempotency"].key_count - 600) <= 30
    assert abs(sampled.patterns["real_time_data"].key_count - 150) <= 30
    assert health.total_keys == 750
    assert health.is_healthy
