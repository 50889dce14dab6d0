"""`/health/dependencies`: what the order service's clients saw of each owner, from their own metrics.

For every (service, operation) the clients called since the service started: calls, the
rate over that time, the share that failed (unavailable, timeout, circuit open, an answer
that breaks the contract; a 404 or a refusal is an answer, not a failure), and p50/p99 read
off `service_client_request_duration_seconds` (the upper edge of the bucket the percentile
falls in: an estimate that is never low). The services discovery lists are the map's nodes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from order_service.metrics import ClientMetrics

FAILURES = frozenset({"unavailable", "timeout", "circuit_open", "contract_violation"})


def _percentile_ms(buckets: list[tuple[float, float]], count: float, share: float) -> float | None:
    """The upper edge (ms) of the first cumulative bucket holding `share` of `count` (None: none, or past the last)."""
    if count == 0:
        return None
    rank = math.ceil(share * count)
    for edge, cumulative in sorted(buckets):
        if cumulative >= rank:
            return None if math.isinf(edge) else round(edge * 1000, 3)
    return None


def dependency_report(metrics: ClientMetrics, uptime_seconds: float, discovered: list[str] | None) -> dict[str, Any]:
    """The report `/health/dependencies` answers (see the module doc)."""
    counts: dict[tuple[str, str], float] = defaultdict(float)
    failed: dict[tuple[str, str], float] = defaultdict(float)
    buckets: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in metrics.request_duration.collect():
        for sample in family.samples:
            labels = sample.labels
            where = (labels["service"], labels["operation"])
            if sample.name.endswith("_count"):
                counts[where] += sample.value
                if labels["outcome"] in FAILURES:
                    failed[where] += sample.value
            elif sample.name.endswith("_bucket"):
                buckets[where][float(labels["le"])] += sample.value
    window = max(uptime_seconds, 1e-9)
    edges = []
    for (service, operation), calls in sorted(counts.items()):
        if calls == 0:
            continue
        cumulative = list(buckets[(service, operation)].items())
        edges.append(
            {
                "caller": "order-service",
                "service": service,
                "operation": operation,
                "calls": int(calls),
                "rate_per_second": round(calls / window, 3),
                "error_share": round(failed[(service, operation)] / calls, 4),
                "p50_ms": _percentile_ms(cumulative, calls, 0.50),
                "p99_ms": _percentile_ms(cumulative, calls, 0.99),
            }
        )
    return {"window_seconds": round(uptime_seconds, 3), "discovered": discovered, "edges": edges}


__all__ = ["FAILURES", "dependency_report"]
