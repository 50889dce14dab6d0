"""An outage of the analytics service during 1,000 P&L writes loses none of them.

Each write is kept while the mock answers 503, then replayed once it recovers; the mock's
journal then shows every write delivered exactly once. Run on the in-memory outbox and on
the durable Redis one (against a real Redis).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from harness.servers import InProcessMocks
from order_service.fallbacks.outbox import Deferred, InMemoryOutbox, Outbox, RedisOutbox
from suites.fixtures.clients import FakeTime, build_hub
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.anyio
WRITES = 1000


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def outbox(request: pytest.FixtureRequest) -> AsyncIterator[Outbox]:
    if request.param == "memory":
        yield InMemoryOutbox()
        return
    real: RealRedis = request.getfixturevalue("real_redis")
    client = aioredis.Redis.from_url(real.url)
    await client.flushdb()
    try:
        yield RedisOutbox(client)
    finally:
        await client.aclose()


async def test_no_write_is_lost_and_each_is_delivered_once(mocks: InProcessMocks, outbox: Outbox) -> None:
    time_ = FakeTime()
    hub = build_hub(mocks, time_, outbox=outbox)
    async with mocks.client("analytics-service") as admin:
        await admin.post("/__admin/faults", json={"kind": "status", "status": 503, "retry_after": 1})
        first_day = date(2024, 1, 1)
        results = [
            await hub.analytics.calculate_and_store_pnl_metrics(
                9,
                first_day + timedelta(days=n),
                {"day_pnl": Decimal(n), "realized_pnl": Decimal(n), "unrealized_pnl": Decimal(0)},
            )
            for n in range(WRITES)
        ]
        assert all(isinstance(r, Deferred) for r in results)
        assert await outbox.depth("analytics-service") == WRITES
        during = (await admin.get("/__admin/journal")).json()["total"]
        # only the first write tried (3 attempts); the rest queued behind it, without a call
        assert during == hub.settings.retry.max_attempts

        await admin.delete("/__admin/faults")
        await admin.delete("/__admin/journal")
        time_.now += hub.settings.breaker.reset_timeout
        delivered = await hub.relay.drain("analytics-service")
        entries = (await admin.get("/__admin/journal", params={"operation_id": "calculatePnlMetrics"})).json()

    assert delivered == WRITES
    assert await outbox.depth("analytics-service") == 0
    successes = [e for e in entries["entries"] if e["status"] in (200, 201)]
    per_key = Counter(e["headers"]["idempotency-key"] for e in successes)
    assert len(per_key) == WRITES
    assert set(per_key.values()) == {1}
    metrics = await hub.analytics.get_pnl_metrics(9, limit=1000)
    assert len(metrics.items) == WRITES
    assert metrics.items[-1].cumulative_pnl == Decimal(sum(range(WRITES)))  # all in, in order
    await hub.aclose()
