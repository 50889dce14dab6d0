"""Tracing of the order flow with OpenTelemetry: off by default, and then it costs nothing.

The service's steps open spans through `span(name, attributes)`: the request (a server
span, continuing a caller's W3C `traceparent`), signature verification, each Redis step
(rate limit, replay check, anomaly windows), each PostgreSQL step (claim, commit, change),
the anomaly check, each client call (a client span whose `traceparent` goes to the owner)
and each outbox delivery (a child of the request that wrote the entry: the entry keeps its
`traceparent`). While no tracer is installed `span` hands back one shared no-op context, so
an untraced service pays one attribute lookup per step (`make bench` shows the rate both
ways).

Spans go where `TracingSettings.exporter` says (`otlp`: OTLP over HTTP, batched; `console`);
tests install a provider of their own (an `InMemorySpanExporter`) with `install`. The
tracer is the module's, not OpenTelemetry's global one, so a test can swap it and a library
that also uses OpenTelemetry does not see the service's spans.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from order_service.settings import TracingSettings

_PROPAGATOR = TraceContextTextMapPropagator()
_OFF: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
_tracer: trace.Tracer | None = None
_provider: TracerProvider | None = None

REDIS = {"db.system.name": "redis"}  # the attributes of a Redis step's span
SERVER = SpanKind.SERVER
CLIENT = SpanKind.CLIENT
INTERNAL = SpanKind.INTERNAL


def install(provider: TracerProvider) -> None:
    """Trace from now on into `provider` (the previous one, if any, is shut down first)."""
    global _tracer, _provider
    uninstall()
    _provider = provider
    _tracer = provider.get_tracer("order_service")


def uninstall() -> None:
    """Stop tracing: flush and shut down the installed provider."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    """Whether spans are being recorded."""
    return _tracer is not None


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = INTERNAL,
    parent: otel_context.Context | None = None,
) -> contextlib.AbstractContextManager[Any]:
    """A span around a step, current inside the block (a no-op: None, while tracing is off).

    An exception leaving the block is recorded on the span, which ends with status ERROR.
    """
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=_clean(attributes or {}))


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int and float attributes; None means "not known" and is left out."""
    return {k: v if isinstance(v, str | bool | int | float) else str(v) for k, v in attributes.items() if v is not None}


def set_attributes(attributes: Mapping[str, Any]) -> None:
    """Add attributes to the current span (a no-op while tracing is off)."""
    if _tracer is not None:
        trace.get_current_span().set_attributes(_clean(attributes))


def inject(headers: MutableMapping[str, str]) -> None:
    """Put the current span's `traceparent` (and `tracestate`) into outgoing headers."""
    if _tracer is not None:
        _PROPAGATOR.inject(headers)


def extract(headers: Mapping[str, str]) -> otel_context.Context | None:
    """The caller's trace context from incoming headers (None when there is none, or tracing is off)."""
    if _tracer is None or "traceparent" not in headers:
        return None
    return _PROPAGATOR.extract(headers)


def current_traceparent() -> str | None:
    """The current span as a `traceparent` value, to keep with work done later (an outbox entry)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def parent_from(traceparent: str | None) -> otel_context.Context | None:
    """A context whose span is the one `traceparent` names (None without one)."""
    if _tracer is None or not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def trace_id() -> str | None:
    """The current trace's id as 32 hex digits (None while no span is recording)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def provider_from(settings: TracingSettings) -> TracerProvider | None:
    """The provider `settings` ask for (None: tracing off)."""
    if settings.exporter == "none":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    exporter: SpanExporter
    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=settings.export_timeout)
    else:
        exporter = ConsoleSpanExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=settings.queue_size, schedule_delay_millis=settings.export_delay_ms
    )
    provider.add_span_processor(processor)
    return provider


@contextlib.contextmanager
def installed(provider: TracerProvider | None) -> Iterator[None]:
    """Trace into `provider` inside the block (nothing when None); flushed and shut down after."""
    if provider is None:
        yield
        return
    install(provider)
    try:
        yield
    finally:
        uninstall()


__all__ = [
    "CLIENT",
    "INTERNAL",
    "REDIS",
    "SERVER",
    "current_traceparent",
    "enabled",
    "extract",
    "inject",
    "install",
    "installed",
    "parent_from",
    "provider_from",
    "set_attributes",
    "span",
    "trace_id",
    "uninstall",
]
