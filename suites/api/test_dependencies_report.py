"""`/health/dependencies`' arithmetic over the clients' histogram: calls, failure share, bucket-edge percentiles."""

from __future__ import annotations

from order_service.api.dependencies import dependency_report
from order_service.metrics import ClientMetrics


def test_the_report_reads_calls_failures_and_percentiles_off_the_histogram() -> None:
    metrics = ClientMetrics()
    observe = metrics.request_duration.labels
    for _ in range(97):
        observe("strategy-service", "validateStrategy", "ok").observe(0.004)  # the 5 ms bucket
    observe("strategy-service", "validateStrategy", "not_found").observe(0.02)  # an answer: not a failure
    observe("strategy-service", "validateStrategy", "timeout").observe(3.0)  # the 5 s bucket
    observe("strategy-service", "validateStrategy", "unavailable").observe(20.0)  # past the last bucket
    report = dependency_report(metrics, uptime_seconds=50, discovered=["strategy-service"])
    (edge,) = report["edges"]
    assert edge["calls"] == 100
    assert edge["rate_per_second"] == 2.0
    assert edge["error_share"] == 0.02
    assert edge["p50_ms"] == 5.0
    assert edge["p99_ms"] == 5000.0  # the 99th call is the timeout
    assert report["discovered"] == ["strategy-service"]


def test_an_operation_past_the_last_bucket_has_no_percentile_rather_than_a_made_up_one() -> None:
    metrics = ClientMetrics()
    metrics.request_duration.labels("account-service", "getAccount", "timeout").observe(30.0)
    (edge,) = dependency_report(metrics, uptime_seconds=1, discovered=None)["edges"]
    assert (edge["p50_ms"], edge["p99_ms"], edge["error_share"]) == (None, None, 1.0)
