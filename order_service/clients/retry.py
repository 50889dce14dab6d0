"""When and how long to wait before trying an idempotent call again."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from order_service.settings import RetrySettings


class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins, up to a cap."""

    def __init__(self, settings: RetrySettings, *, rand: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._rand = rand

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.settings.retry_after_cap))
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2.0 ** (attempt - 1))
        return float(self._rand() * ceiling)

    def may_retry(self, attempt: int) -> bool:
        """Whether another try may follow failed attempt number `attempt`."""
        return attempt < self.settings.max_attempts


def parse_retry_after(value: str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now()).total_seconds(), 0.0)
