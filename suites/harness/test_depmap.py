"""The dependency map's arithmetic: edges, rates, error shares, nearest-rank percentiles, flags, de-duplication."""

from __future__ import annotations

from harness.depmap import Call, build, merge

CONTRACTS = {"strategy-service": {"validateStrategy", "syncStrategyPnl"}}


def call(ms: float | None, *, at: float, status: int | None = 200, operation: str | None = "validateStrategy") -> Call:
    error = status is None or status >= 500
    return Call("order-service", "strategy-service", operation, at, status, error, ms, "GET /strategies/42/validate")


def test_an_edge_sums_its_calls_with_nearest_rank_percentiles() -> None:
    # 100 calls over 10 s: 1..100 ms, the last two answered 503
    calls = [call(float(n), at=n / 10, status=503 if n > 98 else 200) for n in range(1, 101)]
    (edge,) = build(calls, CONTRACTS, window_seconds=10).edges
    assert (edge.calls, edge.rate_per_second, edge.error_share) == (100, 10.0, 0.02)
    assert (edge.p50_ms, edge.p99_ms) == (50.0, 99.0)
    assert edge.in_contract


def test_undocumented_operations_and_services_without_contracts_are_flagged() -> None:
    calls = [
        call(1.0, at=0, operation=None),  # matched no operation: kept by its target
        Call("order-service", "risk-service", "getLimits", 1.0, 200, False, 2.0),
    ]
    mapped = build(calls, CONTRACTS, discovered=["strategy-service"])
    assert mapped.as_dict()["flagged"] == [
        "order-service -> risk-service getLimits: risk-service has no contract",
        "order-service -> strategy-service GET /strategies/42/validate: "
        "strategy-service's contract has no operation 'GET /strategies/42/validate'",
    ]
    assert mapped.window_seconds == 1.0
    assert mapped.nodes["strategy-service"]["discovered"]
    assert not mapped.nodes["risk-service"]["discovered"]


def test_a_journaled_call_that_a_trace_holds_is_counted_once() -> None:
    traced = Call("order-service", "strategy-service", "validateStrategy", 0, 200, False, 3.0, span_id="a" * 16)
    same = Call("order-service", "strategy-service", "validateStrategy", 0, 200, False, None, span_id="a" * 16)
    dropped = Call("order-service", "strategy-service", "validateStrategy", 0, 200, False, None, span_id="b" * 16)
    untraced = Call("unknown", "strategy-service", "validateStrategy", 0, 200, False)
    assert merge([traced], [same, dropped, untraced]) == [traced, dropped, untraced]
