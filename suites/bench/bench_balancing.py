"""`make bench`, load balancing: the p99 of calls over three instances, one of them slow, with and without ejection.

Three strategy mocks and a config service naming them run as real processes on loopback;
the order service's own clients (`ClientHub`, through discovery) validate strategy 42 from
4 concurrent callers (each call its own request; more would saturate the two cores, and
queueing, not the slow instance, would make the p99). One instance answers 100 ms late (a
latency fault). Measured in the same run: all three healthy (the floor), the slow one with outlier detection off (every
third call waits for it), and with it on (the slow one is ejected after three slow answers
in a row, probed again after its ejection, ejected again). Reported: rate, p50, p99, and
each instance's share of the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter

from order_service.clients import ClientHub
from order_service.clients.base import Call
from order_service.clients.models import StrategyValidation
from order_service.settings import LoadBalancingSettings, Settings
from suites.e2e.fleet import STRATEGY, Fleet, running_fleet

CALLERS = 4  # below the 2-core machine's capacity: queueing would hide the slow instance
VALIDATE = Call("validateStrategy", "GET", "/strategies/42/validate", StrategyValidation)
SLOW_MS = 100


async def load(fleet: Fleet, calls: int, *, ejection: bool) -> tuple[float, list[float], Counter[str]]:
    """`calls` validations from CALLERS at once: (calls/s, latencies in ms, calls per instance)."""
    balancing = LoadBalancingSettings(
        outlier_detection=ejection, consecutive_failures=3, slow_seconds=SLOW_MS / 2000, ejection_seconds=2.0
    )
    hub = ClientHub(Settings(config_service_url=fleet.config, load_balancing=balancing))
    latencies: list[float] = []
    remaining = calls

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            # `_perform`, not the public read: concurrent identical reads would share one request
            await hub.strategy._perform(VALIDATE)
            latencies.append((time.perf_counter() - began) * 1000)

    try:
        await hub.strategy.validate_strategy(42)  # discovery and connections, outside the timing
        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        elapsed = time.perf_counter() - began
        shares = Counter(
            {
                url: int(
                    hub.metrics.registry.get_sample_value(
                        "service_client_lb_requests_total", {"service": STRATEGY, "instance": url}
                    )
                    or 0
                )
                for url in fleet.urls
            }
        )
    finally:
        await hub.aclose()
    return calls / elapsed, latencies, shares


def p(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1]


def line(name: str, rate: float, latencies: list[float], shares: Counter[str], urls: list[str]) -> str:
    total = sum(shares.values()) or 1
    spread = " / ".join(f"{shares[u] / total:.0%}" for u in urls)
    return (
        f"  {name}: {rate:,.0f} calls/s, p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {p(latencies, 0.99):.1f} ms; shares {spread}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench (load balancing)", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    with running_fleet() as fleet:
        healthy = asyncio.run(load(fleet, args.calls, ejection=True))
        fleet.handles().service("strategy-1").fault(kind="latency", delay_ms=SLOW_MS)
        without = asyncio.run(load(fleet, args.calls, ejection=False))
        with_ = asyncio.run(load(fleet, args.calls, ejection=True))
    print(f"\nload balancing over three strategy mocks, {CALLERS} callers, {args.calls:,} calls each run:")
    print(line("all three healthy             ", *healthy, fleet.urls))
    print(line(f"one {SLOW_MS} ms slow, no ejection  ", *without, fleet.urls))
    print(line(f"one {SLOW_MS} ms slow, with ejection", *with_, fleet.urls))
    print(
        f"  p99 with ejection / without: {p(with_[1], 0.99) / p(without[1], 0.99):.2f}x; "
        f"with ejection / all healthy: {p(with_[1], 0.99) / p(healthy[1], 0.99):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
