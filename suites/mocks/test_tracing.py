"""The mocks continue a caller's trace: W3C traceparent read as the specification says, journaled, exported."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from harness.servers import InProcessMocks
from mocks.tracing import MockTracing, parse_traceparent

pytestmark = pytest.mark.anyio

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"  # the specification's own example


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VALID, (TRACE, PARENT, True)),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT, False)),
        (f"  {VALID}\t", (TRACE, PARENT, True)),  # optional whitespace around the value
        (f"01-{TRACE}-{PARENT}-01-future", (TRACE, PARENT, True)),  # a later version may add fields
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 has none
        (f"ff-{TRACE}-{PARENT}-01", None),  # version ff is invalid
        (f"00-{'0' * 32}-{PARENT}-01", None),  # all-zero trace id
        (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent id
        (f"00-{TRACE.upper()}-{PARENT}-01", None),  # lowercase hex only
        (f"00-{TRACE[:-1]}-{PARENT}-01", None),
        ("", None),
    ],
)
def test_traceparent_values_are_read_as_the_w3c_specification_says(
    value: str, expected: tuple[str, str, bool] | None
) -> None:
    assert parse_traceparent(value.encode()) == expected


async def test_a_traced_request_is_journaled_with_its_trace_and_found_by_it(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as strategy:
        await strategy.get("/strategies/42/validate", headers={"traceparent": VALID})
        await strategy.get("/strategies/42/validate")
        await strategy.get("/strategies/42/validate", headers={"traceparent": f"00-{TRACE}-{PARENT}-01-x"})
        await strategy.get(
            "/strategies/42/validate", headers=[("traceparent", VALID), ("traceparent", VALID.replace("b7", "b8"))]
        )
        found = (await strategy.get("/__admin/journal", params={"trace_id": TRACE})).json()["entries"]
        bad = await strategy.get("/__admin/journal", params={"trace_id": "not-a-trace"})
    (entry,) = found  # neither the untraced, the malformed nor the doubled one
    assert entry["trace"]["trace_id"] == TRACE
    assert entry["trace"]["parent_span_id"] == PARENT
    own = entry["trace"]["span_id"]
    assert len(own) == 16
    assert own != PARENT
    assert int(own, 16) != 0
    assert [e["trace"] for e in mocks.service("strategy-service").journal()][1:] == [None, None, None]
    assert bad.status_code == 422


async def test_with_an_exporter_the_mocks_span_is_a_server_span_under_the_caller(mocks: InProcessMocks) -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    engine = mocks.app("strategy-service").engine
    engine.tracing = MockTracing(provider)
    try:
        async with mocks.client("strategy-service") as strategy:
            await strategy.get("/strategies/42/validate", headers={"traceparent": VALID})
            with mocks.service("strategy-service").outage(kind="status", status=503):
                await strategy.get("/strategies/42/validate", headers={"traceparent": VALID})
    finally:
        engine.tracing = MockTracing()
        provider.shutdown()
    ok, failed = exported.get_finished_spans()
    entries = mocks.service("strategy-service").journal(trace_id=TRACE)
    for span, entry in zip((ok, failed), entries, strict=True):
        assert span.kind is SpanKind.SERVER
        assert span.name == "validateStrategy"
        assert span.parent is not None
        assert format(span.parent.span_id, "016x") == PARENT
        assert format(span.context.trace_id, "032x") == TRACE
        assert format(span.context.span_id, "016x") == entry["trace"]["span_id"]
    assert ok.attributes is not None
    assert ok.attributes["http.response.status_code"] == 200
    assert failed.status.status_code is StatusCode.ERROR
