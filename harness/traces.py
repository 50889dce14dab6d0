"""A small OTLP/HTTP trace collector: what the order service and the mocks export, kept for tests and the map.

    with Collector() as collector:          # listens on a free loopback port
        start_stack(otlp_endpoint=collector.endpoint)
        ...
        spans = collector.trace(trace_id)   # every span of one trace, from every process

It accepts `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf (plain or gzip,
as OpenTelemetry's OTLP/HTTP exporters send it) and keeps each span as a `SpanRecord`. It
is a test double of a collector, not a collector: nothing is stored beyond `max_spans`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from harness.errors import UsageError

# opentelemetry.proto.trace.v1.Span.SpanKind
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


@dataclass(frozen=True)
class SpanRecord:
    """One exported span, as plain values."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        """How long the span took, in milliseconds."""
        return (self.end_ns - self.start_ns) / 1e6


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def decode(body: bytes) -> list[SpanRecord]:
    """The spans of one OTLP/HTTP protobuf export request."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    records = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", "unknown"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                records.append(
                    SpanRecord(
                        service=service,
                        name=span.name,
                        kind=KINDS.get(span.kind, str(span.kind)),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=STATUS.get(span.status.code, str(span.status.code)),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return records


class Collector:
    """An OTLP/HTTP traces endpoint on loopback (see the module doc); a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_spans: int = 200_000) -> None:
        self._spans: deque[SpanRecord] = deque(maxlen=max_spans)
        self._lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/traces":
                    self._answer(404, b"")
                    return
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                try:
                    spans = decode(body)
                except Exception:  # protobuf's DecodeError and friends: a bad request, answered as one
                    collector.refused += 1
                    self._answer(400, b"")
                    return
                collector.add(spans)
                self._answer(200, ExportTraceServiceResponse().SerializeToString())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:  # quiet: a test's output is its own
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-collector", daemon=True)

    @property
    def endpoint(self) -> str:
        """The traces URL to give an exporter (`.../v1/traces`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1/traces"

    def add(self, spans: list[SpanRecord]) -> None:
        """Keep spans (the endpoint calls this; a test may too)."""
        with self._lock:
            self.requests += 1
            self._spans.extend(spans)

    def spans(self) -> list[SpanRecord]:
        """Every span kept, in the order they arrived."""
        with self._lock:
            return list(self._spans)

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace, oldest start first."""
        return sorted((s for s in self.spans() if s.trace_id == trace_id), key=lambda s: s.start_ns)

    def wait_for(self, trace_id: str, names: set[str], timeout: float = 15.0) -> list[SpanRecord]:
        """The trace once a span of each name in `names` arrived (UsageError naming the missing after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.trace(trace_id)
            missing = names - {s.name for s in spans}
            if not missing:
                return spans
            if time.monotonic() > deadline:
                seen = sorted({s.name for s in spans})
                raise UsageError(f"trace {trace_id}: no span named {sorted(missing)} in {timeout} s; seen: {seen}")
            time.sleep(0.05)

    def clear(self) -> None:
        """Forget every span."""
        with self._lock:
            self._spans.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["Collector", "SpanRecord", "decode"]
