"""A mock's part in a trace: the caller's W3C `traceparent` continued by a span of the mock's own.

Every request that carries a valid `traceparent` is journaled with its trace id, the
caller's span id (the parent) and the id of the mock's own span, so a test can follow one
order from the order service into every mock it touched (`GET /__admin/journal?trace_id=`).
With an exporter (`mocks serve --otlp-endpoint URL`) the mock's span is a real OpenTelemetry
server span, sent over OTLP with the mock's name as its service; without one the ids are
drawn here and nothing is sent. A request without `traceparent` costs one look at its
headers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

# version-trace_id-parent_id-flags (https://www.w3.org/TR/trace-context/#traceparent-header)
_TRACEPARENT = re.compile(rb"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?[ \t]*")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(slots=True)
class TraceRef:
    """Where a request sits in its trace: the trace, the caller's span, the mock's own span."""

    trace_id: str
    parent_span_id: str
    span_id: str
    sampled: bool
    span: Span | None = field(default=None, repr=False)  # the exported span, with an exporter

    def as_dict(self) -> dict[str, Any]:
        """As the journal shows it."""
        return {"trace_id": self.trace_id, "span_id": self.span_id, "parent_span_id": self.parent_span_id}

    def end(self, status: int | None, operation_id: str | None) -> None:
        """Finish the mock's span (exported when the caller sampled it) with the answer's status."""
        if self.span is None:
            return
        from opentelemetry.trace import StatusCode

        if operation_id:  # the operation, not the path: span names stay few
            self.span.update_name(operation_id)
            self.span.set_attribute("rpc.method", operation_id)
        if status is None:  # dropped or hung by a fault
            self.span.set_status(StatusCode.ERROR, "no answer (a fault)")
        else:
            self.span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self.span.set_status(StatusCode.ERROR)
        self.span.end()


def parse_traceparent(value: bytes) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a valid version-00-compatible value; None otherwise."""
    found = _TRACEPARENT.fullmatch(value)
    if found is None or found[1] == b"ff":
        return None
    trace_id, parent, flags = found[2].decode(), found[3].decode(), int(found[4], 16)
    if trace_id == _ZERO_TRACE or parent == _ZERO_SPAN:
        return None
    if found[1] == b"00" and len(value.strip(b" \t")) != 55:  # version 00 has nothing after the flags
        return None
    return trace_id, parent, bool(flags & 1)


class MockTracing:
    """Continues the traces of a mock's requests; exports its spans when given a provider."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._tracer: Tracer | None = provider.get_tracer("mocks") if provider is not None else None
        self._ids = random.Random()

    def start(self, raw_headers: list[tuple[bytes, bytes]], method: str, path: str) -> TraceRef | None:
        """The request's place in its trace (None when it carries no valid `traceparent`)."""
        found: tuple[str, str, bool] | None = None
        for name, value in raw_headers:
            if name == b"traceparent":
                if found is not None:  # two: which one counts is unknowable (W3C: ignore both)
                    return None
                found = parse_traceparent(value)
                if found is None:
                    return None
        if found is None:
            return None
        trace_id, parent, sampled = found
        if self._tracer is None:
            return TraceRef(trace_id, parent, format(self._ids.getrandbits(64) or 1, "016x"), sampled)
        return self._exported(trace_id, parent, sampled, method, path)

    def _exported(self, trace_id: str, parent: str, sampled: bool, method: str, path: str) -> TraceRef:
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        assert self._tracer is not None
        caller = SpanContext(
            int(trace_id, 16), int(parent, 16), is_remote=True, trace_flags=TraceFlags(1 if sampled else 0)
        )
        span = self._tracer.start_span(
            f"{method} {path}",
            context=trace.set_span_in_context(NonRecordingSpan(caller)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        own = span.get_span_context()
        return TraceRef(trace_id, parent, format(own.span_id, "016x"), sampled, span)

    def shutdown(self) -> None:
        """Send what is left and stop the exporter."""
        if self._provider is not None:
            self._provider.shutdown()


def otlp_provider(service_name: str, endpoint: str) -> TracerProvider:
    """A provider that sends the mock's spans to an OTLP/HTTP collector at `endpoint` (batched)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # a queue that holds a busy second of spans: the default (2,048) drops them under load
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint), max_queue_size=65_536, schedule_delay_millis=500
    )
    provider.add_span_processor(processor)
    return provider


__all__ = ["MockTracing", "TraceRef", "otlp_provider", "parse_traceparent"]
