"""Redis usage analytics against a real Redis: TTL buckets, leaks, largest keys, memory shares, growth, the endpoint."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings
from order_service.services.redis_analytics import History, Snapshot, ttl_bucket
from order_service.services.redis_usage_monitor import RedisUsageMonitor
from order_service.settings import RedisMonitorSettings, Settings
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
HOUR_MS, DAY_S = 3_600_000, 86_400


@pytest.fixture
async def monitor(real_redis: RealRedis, redis_client: redis.Redis) -> AsyncIterator[RedisUsageMonitor]:
    client = aioredis.Redis.from_url(real_redis.url)
    yield RedisUsageMonitor(client, RedisMonitorSettings(largest_keys=3))
    await client.aclose()


def seed(r: redis.Redis) -> None:
    """A keyspace whose every figure the test knows (the default prefixes of the order service)."""
    pipe = r.pipeline(transaction=False)
    for n in range(50):
        pipe.set(f"idempotency:short:{n}", "v", ex=30)  # under a minute
    for n in range(20):
        pipe.set(f"replay:sig{n}", "v", ex=2 * 3600)  # under a day
    pipe.set("replay:epoch", "1795700000")  # no TTL, on purpose: exempt
    for n in range(7):
        pipe.set(f"rate_limit:{{account:ZX{n}}}:1", "1")  # no TTL in an expiring pattern: the leak
    for n in range(5):
        pipe.set(f"cache:strategy:{n}", "x" * 100, ex=3 * DAY_S)  # a day or more
    pipe.set("cache:strategy:big", "x" * 100_000, ex=600)  # the largest key, under an hour
    pipe.set("cache:strategy:second", "x" * 20_000, ex=600)
    for n in range(4):
        pipe.set(f"lock:job{n}", "held")  # no TTL, but locks are not an expiring pattern here
    pipe.execute()


async def test_one_scan_reports_ttls_leaks_largest_keys_and_shares(
    monitor: RedisUsageMonitor, redis_client: redis.Redis
) -> None:
    seed(redis_client)
    report = await monitor.scan("exact")
    status, body = monitor.analytics()
    assert status == 200
    patterns = body["patterns"]
    assert patterns["idempotency"]["key_count"] == 71
    assert patterns["idempotency"]["ttl"] == {"none": 1, "under_1m": 50, "under_1h": 0, "under_1d": 20, "1d_or_more": 0}
    assert patterns["idempotency"]["without_ttl"] == 0  # the epoch is exempt
    assert patterns["caching"]["ttl"] == {"none": 0, "under_1m": 0, "under_1h": 2, "under_1d": 0, "1d_or_more": 5}
    assert patterns["worker_coordination"]["ttl"]["none"] == 4
    assert patterns["worker_coordination"]["without_ttl"] == 0
    (leak,) = body["leaks"]
    assert leak["pattern"] == "rate_limiting"
    assert leak["keys_without_ttl"] == 7
    assert set(leak["examples"]) <= {f"rate_limit:{{account:ZX{n}}}:1" for n in range(7)}
    assert len(leak["examples"]) == 5
    assert [k["key"] for k in body["largest_keys"]] == [
        "cache:strategy:big",
        "cache:strategy:second",
        body["largest_keys"][2]["key"],
    ]
    assert body["largest_keys"][0]["bytes"] == redis_client.memory_usage("cache:strategy:big")
    assert 0 < body["largest_keys"][0]["ttl_ms"] <= 600_000
    assert len(patterns["caching"]["largest_keys"]) == 3
    sizes = {
        p: sum(redis_client.memory_usage(k) or 0 for k in redis_client.scan_iter(f"{prefix}*"))
        for p, prefix in (("caching", "cache:"), ("rate_limiting", "rate_limit:"))
    }
    total = sum(u.memory_bytes for u in report.patterns.values())
    assert patterns["caching"]["memory_share"] == round(sizes["caching"] / total, 4)
    assert patterns["rate_limiting"]["memory_share"] == round(sizes["rate_limiting"] / total, 4)
    assert abs(sum(p["memory_share"] for p in patterns.values()) - 1) < 0.001
    assert patterns["caching"]["growth"] is None  # one scan: no rate yet


async def test_growth_between_scans_is_keys_per_hour(monitor: RedisUsageMonitor, redis_client: redis.Redis) -> None:
    seed(redis_client)
    began = time.monotonic()
    await monitor.scan("exact")
    redis_client.eval("for i = 1, 300 do redis.call('SET', 'cache:more:' .. i, 'v', 'EX', 600) end", 0)
    time.sleep(1.1)
    await monitor.scan("exact")
    elapsed = time.monotonic() - began
    growth = monitor.analytics()[1]["patterns"]["caching"]["growth"]
    assert growth["over_seconds"] <= elapsed
    assert 300 * 3600 / elapsed <= growth["keys_per_hour"] <= 300 * 3600 / 1.1
    assert growth["mb_per_hour"] > 0
    assert monitor.analytics()[1]["patterns"]["rate_limiting"]["growth"]["keys_per_hour"] == 0


def test_growth_is_the_change_between_the_oldest_and_newest_scan_kept() -> None:
    history = History(size=3)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for minute, keys in ((0, 100), (10, 160), (20, 220), (30, 400)):  # the first falls out of three
        history.add(Snapshot(start + timedelta(minutes=minute), {"caching": keys}, {"caching": keys * 1024 * 1024}))
    assert history.growth("caching") == {"keys_per_hour": 720.0, "mb_per_hour": 720.0, "over_seconds": 1200.0}
    assert History(3).growth("caching") is None


@pytest.mark.parametrize(
    ("pttl", "bucket"), [(-1, 0), (0, 1), (59_999, 1), (60_000, 2), (HOUR_MS - 1, 2), (HOUR_MS, 3), (24 * HOUR_MS, 4)]
)
def test_ttl_buckets_have_their_edges_where_the_names_say(pttl: int, bucket: int) -> None:
    assert ttl_bucket(pttl) == bucket


async def test_a_sampled_scan_still_finds_a_leak_and_scales_its_counts(
    real_redis: RealRedis, redis_client: redis.Redis
) -> None:
    redis_client.eval("for i = 1, 20000 do redis.call('SET', 'cache:' .. i, 'v', 'EX', 600) end", 0)
    redis_client.eval("for i = 1, 5000 do redis.call('SET', 'rate_limit:' .. i, 'v') end", 0)  # 20 %: leaking
    client = aioredis.Redis.from_url(real_redis.url)
    try:
        monitor = RedisUsageMonitor(client, RedisMonitorSettings(sample_size=10_000))
        await monitor.scan("sampled")
    finally:
        await client.aclose()
    body = monitor.analytics()[1]
    assert body["mode"] == "sampled"
    assert body["largest_keys_from"] == "the keys drawn (sampled scan)"
    (leak,) = body["leaks"]
    assert leak["pattern"] == "rate_limiting"
    assert abs(leak["keys_without_ttl"] - 5000) < 5000 * 0.1
    assert abs(body["patterns"]["caching"]["ttl"]["under_1h"] - 20000) < 20000 * 0.1


async def test_the_order_service_serves_the_analytics_and_their_gauges(
    real_redis: RealRedis, redis_client: redis.Redis
) -> None:
    client = aioredis.Redis.from_url(real_redis.url)
    app = create_app(Settings(security=dev_security_settings()), redis=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://order.test") as http:
        before = await http.get("/health/redis/analytics")
        seed(redis_client)
        await app.state.redis_monitor.scan()
        after = await http.get("/health/redis/analytics")
    await client.aclose()
    assert before.status_code == 503
    assert before.json()["error"] == "unavailable"
    assert after.status_code == 200
    assert after.json()["leaks"][0]["pattern"] == "rate_limiting"
    gauge = app.state.registry.get_sample_value
    assert gauge("redis_usage_pattern_keys_without_ttl", {"pattern": "rate_limiting"}) == 7
    assert gauge("redis_usage_pattern_ttl_keys", {"pattern": "idempotency", "ttl": "under_1m"}) == 50
    share = gauge("redis_usage_pattern_memory_share", {"pattern": "caching"})
    assert share is not None
    assert 0.5 < share < 1  # the two large cache keys hold most of the memory
