"""Prometheus metrics of the order service's clients, on a registry passed in.

Names follow the compliance document (`service_client_request_duration_seconds`); the
registry is explicit so tests and several apps in one process never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ClientMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.request_duration = Histogram(
            "service_client_request_duration_seconds",
            "Calls to other services, by outcome (ok, not_found, rejected, contract_violation, "
            "timeout, unavailable, circuit_open); retries included in one call's time.",
            ["service", "operation", "outcome"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "service_client_retries_total",
            "Retries of idempotent calls.",
            ["service", "operation"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "service_client_fallback_total",
            "Fallbacks used: stale_read (a last-known value served), outbox (a write kept for later), "
            "discovery (a settings address used).",
            ["service", "operation", "kind"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "service_client_outbox_depth", "Writes waiting for their owner.", ["service"], registry=self.registry
        )
        self.outbox_delivered = Counter(
            "service_client_outbox_delivered_total",
            "Kept writes delivered on replay, by result (delivered, dead).",
            ["service", "result"],
            registry=self.registry,
        )
