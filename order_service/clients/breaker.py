"""A circuit breaker per called service: closed, open, half-open.

Closed counts consecutive failures (unreachable, 5xx, 429, timeouts); at the threshold it
opens and calls fail at once, without touching the network. After `reset_timeout` it lets
`half_open_max_calls` trial calls through: a success closes it, a failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from order_service.settings import BreakerSettings

State = Literal["closed", "open", "half_open"]


@dataclass
class _Opening:
    """When the breaker opened (monotonic and wall clock), and the trial calls let through since."""

    at: float
    wall: datetime
    trials: int = 0


class CircuitBreaker:
    """One service's breaker; `allow()` before a call, `record_success()` or `record_failure()` after it."""

    def __init__(
        self,
        name: str,
        settings: BreakerSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock
        self._wall = wall
        self.consecutive_failures = 0
        self._opening: _Opening | None = None  # None while closed

    @property
    def state(self) -> State:
        """Closed, open, or half-open once `reset_timeout` has passed since it opened."""
        if self._opening is None:
            return "closed"
        if self._clock() - self._opening.at >= self._settings.reset_timeout:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, takes one of the trial places."""
        opening = self._opening
        if opening is None:
            return True
        if self.state == "half_open" and opening.trials < self._settings.half_open_max_calls:
            opening.trials += 1
            return True
        return False

    def record_success(self) -> None:
        """A call succeeded: close the breaker and forget the failures."""
        self.consecutive_failures = 0
        self._opening = None

    def record_failure(self) -> None:
        """A call failed: count it, and open the breaker at the threshold."""
        self.consecutive_failures += 1
        # a failed trial in half-open opens it again too: no success came since, so the count is past the threshold
        if self.consecutive_failures >= self._settings.failure_threshold:
            self._opening = _Opening(self._clock(), self._wall())

    def snapshot(self) -> dict[str, Any]:
        """The breaker as `/health/circuit-breaker` shows it."""
        opening = self._opening
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "opened_at": opening.wall.isoformat(timespec="seconds") if opening is not None else None,
        }


class BreakerBoard:
    """One breaker per service name, shared by every client of that service."""

    def __init__(self, settings: BreakerSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, service: str) -> CircuitBreaker:
        """The breaker of `service`, made on first use."""
        if service not in self._breakers:
            self._breakers[service] = CircuitBreaker(service, self._settings, clock=self._clock)
        return self._breakers[service]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every breaker as `/health/circuit-breaker` shows it, by service name."""
        return {name: breaker.snapshot() for name, breaker in sorted(self._breakers.items())}
