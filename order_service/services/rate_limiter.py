"""A Redis rate limiter per trading account and per calling service (fixed one-second windows).

Both counters move in one round trip (a pipeline of INCR and PEXPIRE NX); keys carry the
account or service in a hash tag and expire with their window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter

from order_service import keys
from order_service.settings import RateLimitSettings


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scope: str | None = None  # account | service, when refused
    retry_after: int = 0


class RateLimiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        settings: RateLimitSettings,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self.settings = settings
        self._clock = clock
        self.rejected = Counter(
            "order_service_rate_limited_total",
            "Requests refused by the rate limiter.",
            ["scope"],
            registry=registry or CollectorRegistry(),
        )

    async def hit(self, account: str, service: str) -> Decision:
        window = self.settings.window_seconds
        now = self._clock()
        slot = int(now // window)
        account_key = f"{keys.RATE_LIMIT}:{{account:{account}}}:{slot}"
        service_key = f"{keys.RATE_LIMIT}:{{service:{service}}}:{slot}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(account_key)
            pipe.pexpire(account_key, window * 1000 + 1000, nx=True)
            pipe.incr(service_key)
            pipe.pexpire(service_key, window * 1000 + 1000, nx=True)
            account_count, _, service_count, _ = await pipe.execute()
        retry_after = max(1, math.ceil((slot + 1) * window - now))
        if account_count > self.settings.per_account:
            self.rejected.labels("account").inc()
            return Decision(False, "account", retry_after)
        if service_count > self.settings.per_service:
            self.rejected.labels("service").inc()
            return Decision(False, "service", retry_after)
        return Decision(True)

    def describe(self) -> list[dict[str, object]]:
        window = self.settings.window_seconds
        return [
            {"scope": "account", "limit": self.settings.per_account, "window_seconds": window},
            {"scope": "service", "limit": self.settings.per_service, "window_seconds": window},
        ]

    def rejected_total(self) -> int:
        return int(
            sum(
                sample.value
                for metric in self.rejected.collect()
                for sample in metric.samples
                if sample.name.endswith("_total")
            )
        )
